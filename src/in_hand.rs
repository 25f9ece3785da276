//! The message the filter holds, for the binary's SIGBUS and SIGSEGV handlers (src/main.rs).
//!
//! A mapped file that someone truncates or overwrites in place while it is mapped
//! (`cp backup tokens.db`, `rsync --inplace`, `truncate`) makes the next read of a page past its
//! new end raise SIGBUS, which would kill a delivery with no output. The handler asks this module
//! what the process holds and then, with nothing but async-signal-safe calls (`write`, `_exit`):
//!
//! * [`HOLDING`]: the filter read the whole message and has written none of it: the handler
//!   writes the original bytes to standard output and exits 0 (the message passes through
//!   unscored, as on any other failure);
//! * [`READING`] or [`WRITING`]: the message is not whole in hand or is half written: exit 75
//!   (EX_TEMPFAIL), so the delivery agent keeps its copy;
//! * [`IDLE`]: another command (`check`, `db`, ...): a clear error, exit 2.
//!
//! Only safe code here: the state and the message's address are atomics, set and cleared by a
//! guard that borrows the message, so the address is valid whenever the state says HOLDING.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering::SeqCst};

pub const IDLE: u8 = 0;
pub const READING: u8 = 1;
pub const HOLDING: u8 = 2;
pub const WRITING: u8 = 3;

static STATE: AtomicU8 = AtomicU8::new(IDLE);
static PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static LEN: AtomicUsize = AtomicUsize::new(0);

/// The filter starts reading a message.
pub fn reading() {
    STATE.store(READING, SeqCst);
}

/// The filter holds `input`, whole, until the guard is dropped or [`Holding::writing`] is called.
pub fn hold(input: &[u8]) -> Holding<'_> {
    PTR.store(input.as_ptr().cast_mut(), SeqCst);
    LEN.store(input.len(), SeqCst);
    STATE.store(HOLDING, SeqCst);
    Holding(PhantomData)
}

/// While it lives, the message it borrows is what the handler passes through.
pub struct Holding<'a>(PhantomData<&'a [u8]>);

impl Holding<'_> {
    /// Output starts: from now on a fault must not write the message a second time.
    pub fn writing(&self) {
        STATE.store(WRITING, SeqCst);
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        STATE.store(READING, SeqCst);
        PTR.store(std::ptr::null_mut(), SeqCst);
        LEN.store(0, SeqCst);
    }
}

/// For the tests of the signal handlers through the real binary (tests/reliability.rs): with
/// `SPAMFILT_TEST_FAULT=stack-overflow` in the environment, a call recurses until the stack
/// overflows (SIGSEGV). The filter calls it while it holds the message; other commands before
/// they start. Without the variable it costs one look at the environment.
pub fn test_fault() {
    if std::env::var_os("SPAMFILT_TEST_FAULT").is_some_and(|v| v == "stack-overflow") {
        std::hint::black_box(deeper(0));
    }
}

fn deeper(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 32]);
    if std::hint::black_box(n) == u64::MAX {
        return 0;
    }
    deeper(n + 1).wrapping_add(frame[7])
}

/// What the handler needs: the state and, when HOLDING, the message's address and length.
pub fn now() -> (u8, *const u8, usize) {
    let state = STATE.load(SeqCst);
    (state, PTR.load(SeqCst), LEN.load(SeqCst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_publishes_and_clears_the_message() {
        let msg = b"Subject: x\n\nbody\n".to_vec();
        {
            let h = hold(&msg);
            assert_eq!(now(), (HOLDING, msg.as_ptr(), msg.len()));
            h.writing();
            assert_eq!(now().0, WRITING);
        }
        assert_eq!(now(), (READING, std::ptr::null(), 0));
        STATE.store(IDLE, SeqCst);
    }
}
