//! A work counter for the linear-time tests (issue 15, docs/reliability.md).
//!
//! Every function that scans message text in a loop reports the bytes or steps it examines with
//! [`add`]; the unit tests run a hostile input at one size and at four times that size and assert
//! the count grew about four times, not sixteen. In a normal build [`add`] is empty and compiles
//! to nothing; only the crate's own test build keeps a per-thread count, and a build with the
//! `work-count` feature (for examples/fuzz_slow.rs, which reports the work of its slowest inputs).

/// Records `n` units of work (bytes looked at, candidates tried).
#[inline(always)]
pub fn add(n: usize) {
    #[cfg(any(test, feature = "work-count"))]
    COUNT.with(|c| c.set(c.get() + n as u64));
    #[cfg(not(any(test, feature = "work-count")))]
    let _ = n;
}

#[cfg(any(test, feature = "work-count"))]
thread_local! {
    static COUNT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The work `f` did on this thread.
#[cfg(any(test, feature = "work-count"))]
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = COUNT.with(|c| c.get());
    let r = f();
    (r, COUNT.with(|c| c.get()) - before)
}

/// Asserts that `f` does linear work: the count for a 4× input (`make(4 * n)`) is at most 5×
/// the count for `make(n)` (a scan restarted at every step gives about 16×). The count must not
/// be zero, so a path that reports nothing cannot pass.
#[cfg(test)]
pub fn assert_linear<T>(what: &str, n: usize, make: impl Fn(usize) -> T, f: impl Fn(&T)) {
    let (small, large) = (make(n), make(4 * n));
    let ((), a) = measure(|| f(&small));
    let ((), b) = measure(|| f(&large));
    assert!(a > 0, "{what}: no work was counted");
    assert!(b <= 5 * a, "{what}: {a} units of work at size {n}, {b} at 4x: not linear");
}
