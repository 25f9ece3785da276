//! The binary: parse the command line, run a command, map the result to an exit status.
//!
//! It starts without Rust's runtime set-up (`#![no_main]`): that set-up reads /proc/self/maps to
//! find the main thread's stack, installs a stack-overflow handler with its own signal stack and
//! names the thread (what it cost a delivery is in docs/benchmarks.md, 2026-11-23). What of it matters
//! here is done below: standard descriptors 0-2 are made sure to be open (so a database opened
//! later can never become "standard output"), SIGPIPE is ignored (a closed pipe is an error
//! to report, not a silent death), panics never unwind out of `main`, and standard output is
//! flushed before the exit. SIGXFSZ is ignored (a write past the file size limit fails with EFBIG).
//! SIGBUS and SIGSEGV (a stack overflow) get handlers of their own,
//! on a signal stack of their own, that pass the filter's message through (`on_sigbus`,
//! `on_sigsegv`).
// A test build keeps the test harness's own `main` (this file has no tests; without it the test
// binary would be the filter, waiting on standard input).
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code, unused_imports))]

use std::io::Write;
use std::process::ExitCode;

/// The allocator: glibc's for a delivery, mimalloc for the bulk commands.
///
/// A delivery scores one message and exits: mimalloc would save it less than its own set-up
/// costs (that set-up runs at load whichever allocator is then used; its cost is in
/// docs/benchmarks.md). `check`, `train`, `forget`, `purge`, `eval`, `rules` and `db` make
/// millions of small allocations on all cores, where mimalloc's thread-local free lists make the
/// whole run faster (docs/benchmarks.md). The choice is made once, in `main`, before anything is
/// allocated: `CHOICE` goes from `UNDECIDED` to `SYSTEM` or `MIMALLOC` and never changes again,
/// so every block is freed by the allocator that made it. An allocation made before `main`
/// decides (there are none today) pins glibc's.
#[cfg(not(test))]
mod allocator {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

    const UNDECIDED: u8 = 0;
    const SYSTEM: u8 = 1;
    const MIMALLOC: u8 = 2;
    static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

    /// Chooses mimalloc when nothing was allocated yet and `bulk` says so; glibc's otherwise.
    pub fn choose(bulk: bool) {
        let _ = CHOICE.compare_exchange(UNDECIDED, if bulk { MIMALLOC } else { SYSTEM }, Relaxed, Relaxed);
    }

    fn mimalloc() -> bool {
        match CHOICE.load(Relaxed) {
            MIMALLOC => true,
            SYSTEM => false,
            _ => {
                CHOICE.store(SYSTEM, Relaxed);
                false
            }
        }
    }

    pub struct Chosen;

    // SAFETY: every call is forwarded to one allocator, the same for the whole run once the
    // first call is made (see above), so blocks are always freed and resized by their maker.
    unsafe impl GlobalAlloc for Chosen {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            checked(unsafe {
                if mimalloc() {
                    mimalloc::MiMalloc.alloc(l)
                } else {
                    System.alloc(l)
                }
            })
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            checked(unsafe {
                if mimalloc() {
                    mimalloc::MiMalloc.alloc_zeroed(l)
                } else {
                    System.alloc_zeroed(l)
                }
            })
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            unsafe {
                if mimalloc() {
                    mimalloc::MiMalloc.dealloc(p, l)
                } else {
                    System.dealloc(p, l)
                }
            }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
            checked(unsafe {
                if mimalloc() {
                    mimalloc::MiMalloc.realloc(p, l, new_size)
                } else {
                    System.realloc(p, l, new_size)
                }
            })
        }
    }

    /// An allocation that failed (a process memory limit: Dovecot's is 256 MiB) would abort the
    /// process (Rust's allocation-error handler), and a delivery would die with no output. The
    /// filter holds the whole message by then: it passes it through unchanged (exit 0), or, when
    /// the message is not whole in hand or output has started, exits 75 so the delivery agent
    /// keeps its copy, as on SIGBUS (`super::bail_out`). A writer of the database says which and
    /// what to do, and exits 1 (`in_hand::on_out_of_memory`); other commands get the usual abort.
    #[inline(always)]
    fn checked(p: *mut u8) -> *mut u8 {
        if p.is_null() {
            super::out_of_memory();
        }
        p
    }

    #[global_allocator]
    static GLOBAL: Chosen = Chosen;
}

/// Whether the command line names a bulk command (see `allocator`); read from `argv` as C
/// strings, allocating nothing. A wrong guess costs speed only, never correctness.
#[cfg(not(test))]
fn bulk_command(argc: libc::c_int, argv: *const *const libc::c_char) -> bool {
    const BULK: [&[u8]; 7] = [b"check", b"train", b"forget", b"purge", b"eval", b"rules", b"db"];
    (1..argc.max(0) as usize).any(|i| {
        // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
        let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
        BULK.contains(&arg.to_bytes())
    })
}

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    let bulk = bulk_command(argc, argv);
    allocator::choose(bulk);
    if !bulk {
        // glibc serves blocks from 128 KiB up with their own mmap, and a block shrunk in place
        // (realloc) stays one, so the threshold never adapts: mail-parser reserves the rest of
        // the scanned message (up to 384 KiB) for every base64 part, then shrinks it, and each
        // such part cost an mmap, a page fault and an mremap, growing with both the number of
        // parts and their offset (quadratic in the message; issue 15). Every block a delivery
        // makes of up to 1 MiB (more than the scan limit can ask for) comes from the heap
        // instead, which keeps up to 8 MiB of freed memory at its top rather than giving it
        // back and asking again. Larger blocks (the input, the output) are still mapped, so
        // growing them never copies.
        //
        // Under an address-space limit (RLIMIT_AS: Dovecot's `vsz_limit`, a `ulimit -v`) every
        // thread allocates from the one heap: glibc gives a second thread an arena of its own by
        // reserving 64 MiB (128 MiB mapped to align it), which does not fit under a limit of 80
        // to 160 MiB, and then served that thread's blocks one mmap each until the limit was
        // reached, so a message parsed on the parse thread (nested messages, `message::guard`)
        // passed through unscored where it was scored with less memory (attack report F9).
        // SAFETY: mallopt only sets glibc's malloc parameters and getrlimit fills the struct it
        // is given; called before any thread exists.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
            let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            if libc::getrlimit(libc::RLIMIT_AS, &mut limit) == 0 && limit.rlim_cur != libc::RLIM_INFINITY {
                libc::mallopt(libc::M_ARENA_MAX, 1);
            }
        }
    }
    // SAFETY: plain libc calls on the standard descriptors at start-up, before any other thread
    // exists; `open` gets a NUL-terminated path.
    unsafe {
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
        if libc::poll(fds.as_mut_ptr(), 3, 0) != -1 {
            for f in fds.iter().filter(|f| f.revents & libc::POLLNVAL != 0) {
                if libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) != f.fd {
                    return 127;
                }
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // A write past the file size limit (RLIMIT_FSIZE: a delivery agent that spools the
        // filter's output into a file under a limit) fails with EFBIG, reported like any other
        // failed write (the filter: exit 75, the agent keeps its copy), instead of SIGXFSZ
        // ending the process with a truncated message behind it.
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        // SIGBUS and SIGSEGV run their handler on a stack of its own (`sigaltstack`), so it
        // runs even when the fault is the main thread's stack overflowing.
        let alt = libc::stack_t {
            ss_sp: (&raw mut SIGNAL_STACK).cast(),
            ss_flags: 0,
            ss_size: std::mem::size_of::<SignalStack>(),
        };
        let on_alt = if libc::sigaltstack(&alt, std::ptr::null_mut()) == 0 { libc::SA_ONSTACK } else { 0 };
        for (sig, handler) in [(libc::SIGBUS, on_sigbus as *const ()), (libc::SIGSEGV, on_sigsegv as *const ())] {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = handler as libc::sighandler_t;
            act.sa_flags = on_alt;
            libc::sigfillset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
    let code = std::panic::catch_unwind(run).unwrap_or(ExitCode::from(101));
    let _ = std::io::stdout().flush();
    // ExitCode keeps its number to itself; it does compare, though.
    (0..=255u8).find(|&n| ExitCode::from(n) == code).map_or(1, libc::c_int::from)
}

/// What every fatal-error handler (`out_of_memory`, `on_sigsegv`, `on_sigbus`) does while the
/// filter has a message: with the whole message in hand, says `passing` and writes the message
/// to standard output unchanged, exit status 0 (75 when that write fails); while it is being
/// read or written, says `keeping`, exit status 75 (the delivery agent keeps its copy); while
/// another thread's handler writes it, waits for that to end the process. `None` when there is
/// no message (any other command): the handler does what its cause asks. Async-signal-safe:
/// atomics, `write`, `sigprocmask` and `pause`.
#[cfg(not(test))]
fn rescue(passing: &[u8], keeping: &[u8]) -> Option<libc::c_int> {
    use spamfilt::in_hand;
    let (state, ptr, len) = in_hand::claim();
    match state {
        in_hand::HOLDING => {
            say(passing);
            // SAFETY: in_hand publishes the message's address only while a guard borrows it.
            Some(if unsafe { in_hand::write_all(1, ptr, len) } { 0 } else { 75 })
        }
        // Another thread's handler is writing the message and ends the process.
        in_hand::RESCUING => in_hand::wait_for_the_end(),
        in_hand::READING | in_hand::WRITING => {
            say(keeping);
            Some(75)
        }
        _ => None,
    }
}

/// Writes a fatal-error handler's message to standard error (async-signal-safe: `write`).
#[cfg(not(test))]
fn say(msg: &[u8]) {
    // SAFETY: a static message.
    unsafe { spamfilt::in_hand::write_all(2, msg.as_ptr(), msg.len()) };
}

/// An allocation failed (see `allocator::checked`). Allocates nothing: `write` and `_exit`.
/// Returns only outside the filter (the caller then returns the null pointer and Rust aborts).
#[cfg(not(test))]
fn out_of_memory() {
    use spamfilt::in_hand;
    let code = match rescue(
        b"spamfilt: out of memory (a process memory limit?); passing the message through unchanged\n",
        b"spamfilt: out of memory (a process memory limit?); exit 75 so the message is kept\n",
    ) {
        Some(code) => code,
        // A writer of the database: what it was doing and what to do, then exit 1 (the
        // database is replaced only whole, so it is as it was, and the lock goes with the process).
        None => match in_hand::out_of_memory_note() {
            Some((ptr, len)) => {
                // SAFETY: a leaked string's bytes (`in_hand::on_out_of_memory`).
                unsafe { in_hand::write_all(2, ptr, len) };
                1
            }
            None => return,
        },
    };
    // SAFETY: nothing is left to do; _exit skips destructors and buffered output on purpose
    // (the message was written whole above, by write(2)).
    unsafe { libc::_exit(code) }
}

/// The main thread's signal stack (see `main`): 64 KiB, more than any kernel's minimum
/// (`MINSIGSTKSZ` grows with the CPU's vector registers) and than the handlers need.
#[cfg(not(test))]
#[repr(C, align(16))]
struct SignalStack([u8; 64 << 10]);

#[cfg(not(test))]
static mut SIGNAL_STACK: SignalStack = SignalStack([0; 64 << 10]);

/// SIGSEGV: most likely a stack overflow (anything recursive in parsing that a hostile message
/// drove too deep; the parser's known recursion is bounded, see `message::guarded_parse`) or a
/// bug. In the filter it is treated as SIGBUS is (`on_sigbus`): the whole message in hand passes
/// through unchanged with exit 0, or exit 75 when it is not whole in hand or output has started,
/// so no delivery dies of it. Any other command gets a one-line note and then the default
/// action, as before: the handler puts it back and returns, the faulting instruction runs again
/// and the process ends by SIGSEGV (a core dump where those are enabled). Only the main thread
/// has the signal stack: a stack overflow on another thread (`check`'s workers, the parse
/// thread) cannot run a handler and ends the process by SIGSEGV, as it did before.
#[cfg(not(test))]
extern "C" fn on_sigsegv(_: libc::c_int) {
    let code = match rescue(
        b"spamfilt: internal error: SIGSEGV (a stack overflow?); passing the message through unchanged\n",
        b"spamfilt: internal error: SIGSEGV (a stack overflow?); exit 75 so the message is kept\n",
    ) {
        Some(code) => code,
        None => {
            say(b"spamfilt: internal error: SIGSEGV (a stack overflow?)\n");
            // SAFETY: signal(2) is async-signal-safe; the fault repeats on return and, with the
            // default action back, ends the process as it would have without this handler.
            unsafe { libc::signal(libc::SIGSEGV, libc::SIG_DFL) };
            return;
        }
    };
    // SAFETY: _exit is async-signal-safe; nothing else is to be done.
    unsafe { libc::_exit(code) }
}

/// SIGBUS: a file mapped by this process (the token database, the reputation database, any
/// other map) was truncated or overwritten in place (`cp backup tokens.db`, `rsync --inplace`)
/// and a page past its new end was read. A delivery must not die of it with the message in hand:
/// the filter's message passes through unchanged (exit 0), or, when it is not whole in hand or
/// output has started, the exit status is 75 so the delivery agent keeps its copy; any other
/// command stops with a clear error (src/in_hand.rs). Only async-signal-safe calls: `write`
/// and `_exit`. Tested by tests/reliability.rs; measured in docs/reliability.md.
#[cfg(not(test))]
extern "C" fn on_sigbus(_: libc::c_int) {
    let code = rescue(
        b"spamfilt: a database file was truncated or overwritten in place while in use (SIGBUS); passing the message through unchanged\n",
        b"spamfilt: a database file was truncated or overwritten in place while in use (SIGBUS); exit 75 so the message is kept\n",
    )
    .unwrap_or_else(|| {
        say(b"spamfilt: error: a file spamfilt had open was truncated or overwritten in place while in use (SIGBUS); stopped. Replace database files by renaming (mv), not in place (cp, rsync --inplace)\n");
        2
    });
    // SAFETY: _exit is async-signal-safe; nothing else is to be done.
    unsafe { libc::_exit(code) }
}

/// A command line clap refuses. When it names no command but the filter (`spamfilt --bogus`,
/// `spamfilt filter --exit-cod`) and standard input is not a terminal, this is a delivery: a
/// procmail `:0f` recipe without `w` would deliver an empty message if we wrote nothing, so the
/// message on standard input passes through unchanged (exit 0; 75 if it cannot be copied whole)
/// and the error goes to stderr (issue 15). Help, version and other commands are as usual.
fn command_line_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    use clap::CommandFactory;
    use std::io::{IsTerminal, Read};
    let informational = matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let cmd = spamfilt::cli::Cli::command();
    let names_a_command = std::env::args().skip(1).any(|a| {
        cmd.get_subcommands()
            .any(|c| c.get_name() != "filter" && (c.get_name() == a || c.get_all_aliases().any(|x| x == a)))
    });
    if informational || names_a_command || std::io::stdin().is_terminal() {
        e.exit();
    }
    let _ = e.print();
    let mut input = Vec::new();
    let read = std::io::stdin().lock().read_to_end(&mut input);
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_all(&input).and_then(|_| stdout.flush());
    // What to fix, and where: the error above names the flag; the command as it came (an empty
    // argument shown as '') is the one in the delivery recipe.
    let line: Vec<String> =
        std::iter::once("spamfilt".to_string()).chain(std::env::args_os().skip(1).map(shown)).collect();
    let line = line.join(" ");
    match (read, written) {
        (Ok(_), Ok(())) => {
            eprintln!(
                "spamfilt: the command line above is wrong; the message was passed through unchanged, \
                 unscored (no X-Spam-* fields). Fix `{line}` in the delivery recipe (.procmailrc, \
                 .mailfilter, the Sieve script); `spamfilt --help` lists the options"
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "spamfilt: the command line above is wrong, and the message could not be passed through whole \
                 (exit 75: the delivery agent keeps it). Fix `{line}` in the delivery recipe"
            );
            ExitCode::from(75)
        }
    }
}

/// An argument as a shell would need it: as it is when that is plain, else in single quotes
/// (an empty one as ''), with control characters escaped so a hostile byte cannot reach a log.
fn shown(arg: std::ffi::OsString) -> String {
    let text = arg.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./=:@%+,-".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.into_owned();
    }
    let escaped: String = text
        .chars()
        .map(|c| match c {
            '\'' => "'\\''".to_string(),
            c if c.is_control() => format!("\\x{:02x}", c as u32),
            c => c.to_string(),
        })
        .collect();
    format!("'{escaped}'")
}

fn run() -> ExitCode {
    // A panic inside the MIME parser is caught and the message scored from its headers; any other
    // panic is a bug, reported as one (and still never loses mail: see commands::filter).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // `println!` panics when standard output is a pipe whose reader has gone away
        // (`spamfilt ip list --spam | head`): that is the reader's choice, not an error. End
        // quietly with status 0, as a BrokenPipe error does below. Whatever a command was
        // writing to a database is written aside and renamed, so stopping here loses nothing.
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        if !spamfilt::message::in_parser() {
            default_hook(info);
        }
    }));
    let cli = match spamfilt::cli::Cli::parse_delivery(std::env::args_os(), |k| std::env::var_os(k)) {
        Some(cli) => cli,
        None => match spamfilt::cli::Cli::try_parse_env(std::env::args_os(), |k| std::env::var_os(k)) {
            Ok(cli) => cli,
            Err(e) => return command_line_error(e),
        },
    };
    match spamfilt::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`spamfilt check … | head`) is not an error worth a message.
            if err
                .chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("spamfilt: error: {}", spamfilt::problems::error_text(&err));
            ExitCode::from(2)
        }
    }
}
