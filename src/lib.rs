//! spamfilt: a spam filter for people who run their own mail.
//!
//! The hot path is `message` → `features` → `bayes` (+ rules) → `verdict` → `rewrite`, driven
//! by `scoring`; `store` holds the on-disk formats; `commands` is the only layer that knows about
//! paths, the environment, the config file and the terminal. See docs/architecture.md.

#![deny(unsafe_code)]

pub mod bayes;
pub mod cli;
pub mod commands;
mod config;
mod date;
pub mod dns;
mod domain;
pub mod eval;
pub mod features;
pub mod filter;
mod hash;
pub mod in_hand;
pub mod learn;
pub mod lists;
pub mod lr;
pub mod mailbox;
pub mod message;
mod parallel;
mod policy;
pub mod problems;
mod received;
mod rewrite;
pub mod rules;
pub mod scoring;
pub mod sender;
pub mod starter;
pub mod store;
pub mod verdict;
pub mod work;

/// A deterministic pseudo-random sequence for the randomized tests.
#[cfg(test)]
mod test_rng {
    /// Marsaglia's xorshift64 from `seed` (not 0).
    pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// splitmix64 from `seed` (any value).
    pub fn splitmix(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            let z = crate::hash::splitmix64(x);
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z
        }
    }
}
