//! The binary: parse the command line, run a command, map the result to an exit status.
//!
//! It starts without Rust's runtime set-up (`#![no_main]`): that set-up reads /proc/self/maps to
//! find the main thread's stack, installs a stack-overflow handler with its own signal stack and
//! names the thread, about 0.09 ms of a 2.5 ms delivery (docs/benchmarks.md). What of it matters
//! here is done below: standard descriptors 0-2 are made sure to be open (so a database opened
//! later can never become "standard output"), SIGPIPE is ignored (a closed pipe is an error
//! to report, not a silent death), panics never unwind out of `main`, and standard output is
//! flushed before the exit. A stack overflow, which the handler would only have reported, still
//! ends the process by SIGSEGV: procmail, maildrop and Dovecot keep the message on that.
// A test build keeps the test harness's own `main` (this file has no tests; without it the test
// binary would be the filter, waiting on standard input).
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code, unused_imports))]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
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
    }
    let code = std::panic::catch_unwind(run).unwrap_or(ExitCode::from(101));
    let _ = std::io::stdout().flush();
    // ExitCode keeps its number to itself; it does compare, though.
    (0..=255u8).find(|&n| ExitCode::from(n) == code).map_or(1, libc::c_int::from)
}

fn run() -> ExitCode {
    // A panic inside the MIME parser is caught and the message scored from its headers; any other
    // panic is a bug, reported as one (and still never loses mail: see commands::filter).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !spamfilt::message::in_parser() {
            default_hook(info);
        }
    }));
    let cli = spamfilt::cli::Cli::parse_delivery(std::env::args_os(), |k| std::env::var_os(k))
        .unwrap_or_else(spamfilt::cli::Cli::parse);
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
            eprintln!("spamfilt: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
