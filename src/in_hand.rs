//! The message the filter holds, for the binary's signal handlers (src/main.rs and
//! [`catch_termination_signals`] here).
//!
//! A mapped file that someone truncates or overwrites in place while it is mapped
//! (`cp backup tokens.db`, `rsync --inplace`, `truncate`) makes the next read of a page past its
//! new end raise SIGBUS, which would kill a delivery with no output; a stack overflow raises
//! SIGSEGV; a delivery agent's timeout (procmail's `TIMEOUT`, Dovecot's program clients), a CPU
//! limit (SIGXCPU) or an administrator sends SIGTERM, SIGHUP, SIGALRM, ... The handlers ask this
//! module what the process holds and then, with nothing but async-signal-safe calls (`write`,
//! `_exit`):
//!
//! * [`HOLDING`]: the filter read the whole message and has written none of it: the handler
//!   claims it ([`claim`]: HOLDING becomes RESCUING, so only one handler on one thread writes
//!   it), writes the original bytes to standard output and exits 0 (the message passes through
//!   unscored, as on any other failure);
//! * [`READING`] or [`WRITING`]: the message is not whole in hand or is half written: a fault
//!   exits 75 (EX_TEMPFAIL), so the delivery agent keeps its copy. A termination signal cannot
//!   arrive while the filter writes: [`Holding::writing`] blocks them on the writing thread for
//!   the rest of the run, so the output is finished and the run exits with its own status; one
//!   delivered to another thread then is ignored for the same reason;
//! * [`IDLE`]: another command (`check`, `db`, ...): a clear error, exit 2.
//!
//! The state and the message's address are atomics, set and cleared by a guard that borrows the
//! message, so the address is valid whenever the state says HOLDING or RESCUING. The only unsafe
//! code is the signal set-up and handler of [`catch_termination_signals`].

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering::SeqCst};

pub const IDLE: u8 = 0;
pub const READING: u8 = 1;
pub const HOLDING: u8 = 2;
pub const WRITING: u8 = 3;
/// A handler claimed the held message and is writing it ([`claim`]); the process ends when it
/// is done. Anyone else who finds this state waits for that end ([`wait_for_the_end`]).
pub const RESCUING: u8 = 4;

static STATE: AtomicU8 = AtomicU8::new(IDLE);
static PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static LEN: AtomicUsize = AtomicUsize::new(0);

static NOTE_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static NOTE_LEN: AtomicUsize = AtomicUsize::new(0);

/// What a failed allocation outside the filter says before the process exits 1, instead of
/// Rust's abort (SIGABRT): a writer of the database sets it when it takes the lock (which
/// database, and what to do). Leaked, so that the handler writes it without allocating.
pub fn on_out_of_memory(note: String) {
    let note: &'static [u8] = Box::leak(note.into_boxed_str()).as_bytes();
    NOTE_LEN.store(0, SeqCst);
    NOTE_PTR.store(note.as_ptr().cast_mut(), SeqCst);
    NOTE_LEN.store(note.len(), SeqCst);
}

/// The note [`on_out_of_memory`] set, if any: the address and length of a leaked (never
/// freed) string (a length of 0 while another thread sets a new note reads as no note).
pub fn out_of_memory_note() -> Option<(*const u8, usize)> {
    let (ptr, len) = (NOTE_PTR.load(SeqCst), NOTE_LEN.load(SeqCst));
    (!ptr.is_null() && len > 0).then_some((ptr.cast_const(), len))
}

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
    /// Output starts: from now on a fault must not write the message a second time, and a
    /// termination signal must not cut the output short. The termination signals are blocked
    /// on this thread first (for the rest of the run: the output is finished and the run exits
    /// with its own status; a signal that came meanwhile stays pending and is dropped at the
    /// exit); then HOLDING becomes WRITING. If a handler on another thread claimed the message
    /// first, it is writing the original bytes and ends the process: this thread waits for that.
    pub fn writing(&self) {
        signals::block();
        if STATE.compare_exchange(HOLDING, WRITING, SeqCst, SeqCst).is_err() && STATE.load(SeqCst) == RESCUING {
            wait_for_the_end();
        }
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        STATE.store(READING, SeqCst);
        PTR.store(std::ptr::null_mut(), SeqCst);
        LEN.store(0, SeqCst);
    }
}

/// For the tests of the signal handlers through the real binary (tests/reliability.rs), read
/// from `SPAMFILT_TEST_FAULT` (a test hook, documented in docs/reliability.md; without the
/// variable it costs one look at the environment):
///
/// * `stack-overflow`: a call recurses until the stack overflows (SIGSEGV). The filter calls it
///   while it holds the message ([`Stage::Holding`]); other commands before they start.
/// * `hold`: at [`Stage::Holding`], says `spamfilt: test: holding the message` on stderr and
///   waits (up to 60 s, in case no signal comes) for a signal to end it.
/// * `write`: at [`Stage::Writing`] (termination signals blocked), says `spamfilt: test:
///   writing the message` on stderr and waits (up to 60 s) until a termination signal is
///   pending, then goes on writing.
///
/// (`kill-after-rename-N`, for the writers' commit, is read by `store::commit`.)
pub fn test_fault(stage: Stage) {
    let Some(fault) = std::env::var_os("SPAMFILT_TEST_FAULT") else { return };
    match (fault.to_str(), stage) {
        (Some("stack-overflow"), Stage::Holding) => {
            std::hint::black_box(deeper(0));
        }
        (Some("hold"), Stage::Holding) => {
            eprintln!("spamfilt: test: holding the message");
            for _ in 0..600 {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        (Some("write"), Stage::Writing) => {
            eprintln!("spamfilt: test: writing the message");
            for _ in 0..6000 {
                if signals::pending() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        _ => {}
    }
}

/// Where [`test_fault`] is called from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage {
    /// The whole message is held, nothing written.
    Holding,
    /// [`Holding::writing`] was called, nothing written yet.
    Writing,
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

/// For a handler: [`now`], and when the state was HOLDING it is RESCUING from now on, so that
/// no other handler (on another thread) and not the filter's own output writes the message too.
/// Async-signal-safe (atomics only).
pub fn claim() -> (u8, *const u8, usize) {
    match STATE.compare_exchange(HOLDING, RESCUING, SeqCst, SeqCst) {
        Ok(_) => (HOLDING, PTR.load(SeqCst), LEN.load(SeqCst)),
        Err(state) => (state, PTR.load(SeqCst), LEN.load(SeqCst)),
    }
}

/// Another thread's handler claimed the message ([`RESCUING`]) and ends the process once it is
/// written: wait for that, with every signal blocked. Async-signal-safe (`sigprocmask`, `pause`).
pub fn wait_for_the_end() -> ! {
    signals::wait_for_the_end()
}

/// Once the filter holds the whole message: the signals whose default action ends the process
/// and that can be caught (SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU,
/// SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT and the real-time signals) get a handler that
/// writes the held message to standard output unchanged and exits 0 (75 if that write fails),
/// so that a delivery agent's timeout (procmail's `TIMEOUT` and Dovecot's program clients send
/// SIGTERM), a CPU limit (SIGXCPU) or an administrator's `kill` never ends a delivery with the
/// message in hand. While output is written they are blocked ([`Holding::writing`]).
///
/// Not covered: SIGKILL and SIGSTOP, which cannot be caught (the delivery agent sees a death by
/// signal and keeps its copy); a signal before the message is read whole, which keeps its
/// default action (nothing is in hand; the agent keeps its copy). SIGXFSZ is ignored for the
/// whole run by src/main.rs (a write past the file size limit fails with EFBIG: exit 75).
/// SIGBUS and SIGSEGV have handlers of their own in src/main.rs.
pub fn catch_termination_signals() {
    signals::install();
}

/// Writes all of `len` bytes at `ptr` to `fd`; false on an error. Async-signal-safe: the
/// signal handlers here and the fatal-error handlers in src/main.rs write the message with it.
///
/// # Safety
/// `ptr` must point to `len` readable bytes.
#[allow(unsafe_code)]
pub unsafe fn write_all(fd: libc::c_int, mut ptr: *const u8, mut len: usize) -> bool {
    while len > 0 {
        // SAFETY: the caller's promise; write(2) is async-signal-safe.
        let n = unsafe { libc::write(fd, ptr.cast(), len) };
        if n < 0 {
            // SAFETY: reading errno is async-signal-safe.
            if unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return false;
        }
        // SAFETY: n <= len bytes were written, so the rest is still inside the buffer.
        ptr = unsafe { ptr.add(n as usize) };
        len -= n as usize;
    }
    true
}

/// The unsafe part: sigaction, sigprocmask and the handler itself.
#[allow(unsafe_code)]
mod signals {
    use super::{claim, write_all, HOLDING, RESCUING, WRITING};

    /// The signals [`super::catch_termination_signals`] handles, besides the real-time ones.
    const TERMINATING: [libc::c_int; 13] = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGALRM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGXCPU,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGIO,
        libc::SIGPWR,
        libc::SIGSTKFLT,
    ];

    /// Every handled signal: `TERMINATING` and SIGRTMIN..=SIGRTMAX (as the C library leaves
    /// them to programs: glibc keeps the first two real-time signals for itself).
    fn each(mut f: impl FnMut(libc::c_int)) {
        TERMINATING.iter().for_each(|&s| f(s));
        (libc::SIGRTMIN()..=libc::SIGRTMAX()).for_each(f);
    }

    fn set() -> libc::sigset_t {
        // SAFETY: sigemptyset/sigaddset only write the set they are given.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            each(|s| {
                libc::sigaddset(&mut set, s);
            });
            set
        }
    }

    pub fn install() {
        // SAFETY: sigaction with a zeroed struct, a full mask and a handler that is
        // async-signal-safe (`on_termination`).
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_termination as *const () as libc::sighandler_t;
            act.sa_flags = libc::SA_RESTART;
            libc::sigfillset(&mut act.sa_mask);
            each(|s| {
                libc::sigaction(s, &act, std::ptr::null_mut());
            });
        }
    }

    /// Blocks the handled signals on the calling thread.
    pub fn block() {
        let set = set();
        // SAFETY: pthread_sigmask reads the set and changes only this thread's mask.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    }

    /// Whether one of the handled signals is pending (blocked and sent): for the test hook.
    pub fn pending() -> bool {
        // SAFETY: sigpending and sigismember only write and read the set they are given.
        unsafe {
            let mut p: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut p);
            libc::sigpending(&mut p);
            let mut any = false;
            each(|s| any |= libc::sigismember(&p, s) == 1);
            any
        }
    }

    pub fn wait_for_the_end() -> ! {
        // SAFETY: blocks every signal on this thread, then sleeps; the thread that claimed the
        // message ends the process with `_exit`.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
            loop {
                libc::pause();
            }
        }
    }

    fn say(parts: &[&[u8]]) {
        for p in parts {
            // SAFETY: a slice.
            unsafe { write_all(2, p.as_ptr(), p.len()) };
        }
    }

    /// `n` in decimal, in `buf`, without allocating.
    fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return &buf[i..];
            }
        }
    }

    /// The handler: only atomics, `write`, `_exit`, `signal`, `raise`, `sigprocmask` and
    /// `pause` (all async-signal-safe); no allocation, no lock, no Rust I/O.
    extern "C" fn on_termination(sig: libc::c_int) {
        let (state, ptr, len) = claim();
        let mut digits = [0u8; 10];
        let number = decimal(sig.max(0) as u32, &mut digits);
        match state {
            HOLDING => {
                say(&[b"spamfilt: stopped by signal ", number, b"; passing the message through unchanged, unscored\n"]);
                // SAFETY: in_hand publishes the message's address only while a guard borrows
                // it, and the guard's thread cannot drop it now: it is in this handler, or it
                // waits in `Holding::writing` (RESCUING) for the `_exit` below.
                let code = if unsafe { write_all(1, ptr, len) } { 0 } else { 75 };
                // SAFETY: _exit is async-signal-safe; the message was written whole by write(2).
                unsafe { libc::_exit(code) }
            }
            // The writing thread blocks these signals; this thread is another one. The output
            // is finished and the run exits with its own status: the signal is dropped.
            WRITING => {}
            RESCUING => wait_for_the_end(),
            // Outside the filter's hold (its output written; or not yet read whole, which the
            // filter does not install this handler for): the default action, as without it.
            _ => {
                // SAFETY: signal and raise are async-signal-safe; the raised signal is blocked
                // until this handler returns, and then ends the process.
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::raise(sig);
                }
            }
        }
    }
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
