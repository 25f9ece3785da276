//! k-fold cross-validation in memory: every message is scored once, by a model trained on all
//! the folds it is not in. The user's database is never touched.
//!
//! Fold membership comes from the message's content digest and the seed, so the result is the
//! same for the same messages and seed whatever order the paths were given in. Folds run on
//! all cores (`parallel::map_ordered`).

use crate::learn::Prepared;
use crate::store::{Counts, MemoryStore, Totals};

/// One message to evaluate: its prepared tokens and its true class.
pub struct Item {
    pub prepared: Prepared,
    pub is_spam: bool,
}

/// Which fold (0..folds) a message belongs to.
pub fn fold_of(item: &Item, folds: usize, seed: u64) -> usize {
    let mut x = u64::from_le_bytes(item.prepared.digest[..8].try_into().expect("8 bytes")) ^ seed;
    // splitmix64 finalizer
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x % folds as u64) as usize
}

fn add(store: &mut MemoryStore, item: &Item, sign: i64) {
    for &h in &item.prepared.hashes {
        let c = store.tokens.entry(h).or_default();
        let field = if item.is_spam { &mut c.spam } else { &mut c.ham };
        *field = (*field as i64 + sign).max(0) as u32;
        if *c == Counts::default() {
            store.tokens.remove(&h);
        }
    }
    let t = if item.is_spam { &mut store.totals.spam } else { &mut store.totals.ham };
    *t = (*t as i64 + sign).max(0) as u64;
}

/// Trains on everything, then for each fold subtracts that fold and scores its messages with
/// `score(index, model)`. Returns one score per item, in item order. `tick` is called once per
/// scored message (for a progress bar).
pub fn run<S, T>(items: &[Item], folds: usize, seed: u64, score: S, tick: T) -> Vec<f64>
where
    S: Fn(usize, &MemoryStore) -> f64 + Sync,
    T: Fn() + Sync,
{
    let folds = folds.max(2);
    let mut all = MemoryStore { totals: Totals::default(), tokens: Default::default() };
    for item in items {
        add(&mut all, item, 1);
    }
    let members: Vec<Vec<usize>> = {
        let mut m = vec![Vec::new(); folds];
        for (i, item) in items.iter().enumerate() {
            m[fold_of(item, folds, seed)].push(i);
        }
        m
    };
    let mut scores = vec![0.0f64; items.len()];
    let fold_ids: Vec<usize> = (0..folds).collect();
    crate::parallel::map_ordered(
        &fold_ids,
        |&f| {
            let mut model = all.clone();
            for &i in &members[f] {
                add(&mut model, &items[i], -1);
            }
            members[f]
                .iter()
                .map(|&i| {
                    let s = score(i, &model);
                    tick();
                    (i, s)
                })
                .collect::<Vec<(usize, f64)>>()
        },
        |_, local| {
            for (i, s) in local {
                scores[i] = s;
            }
        },
    );
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u8, spam: bool, hashes: &[u64]) -> Item {
        let mut digest = [0u8; 16];
        digest[0] = n;
        digest[1] = spam as u8;
        Item {
            prepared: Prepared { digest, hashes: hashes.to_vec(), origin: None, sent_to: Vec::new(), lr: Vec::new() },
            is_spam: spam,
        }
    }

    #[test]
    fn each_message_is_scored_by_a_model_that_never_saw_it() {
        let items: Vec<Item> = (0..40).map(|i| item(i, i % 2 == 0, &[1000 + i as u64, 7])).collect();
        let scores = run(
            &items,
            5,
            42,
            |i, model| {
                // The message's own unique token must be unknown to its model.
                let own = model.tokens.get(&(1000 + i as u64)).copied().unwrap_or_default();
                assert_eq!(own, Counts::default());
                // Everything else is known.
                let shared = model.tokens[&7];
                (shared.spam + shared.ham) as f64
            },
            || {},
        );
        // Token 7 is in every message: the model for a fold holds all but that fold's count.
        assert!(scores.iter().all(|&s| s > 20.0 && s < 40.0), "{scores:?}");
    }

    #[test]
    fn folds_are_deterministic_and_spread() {
        let items: Vec<Item> = (0..200).map(|i| item(i as u8, i >= 100, &[])).collect();
        let a: Vec<usize> = items.iter().map(|it| fold_of(it, 10, 1)).collect();
        let b: Vec<usize> = items.iter().map(|it| fold_of(it, 10, 1)).collect();
        assert_eq!(a, b);
        for f in 0..10 {
            assert!(a.iter().filter(|&&x| x == f).count() > 5);
        }
    }
}
