//! The binary: parse the command line, run a command, map the result to an exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
