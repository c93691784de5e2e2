//! The `fenhe` binary. Argument parsing and dispatch live in [`cli`]; each command family has its
//! own module, which calls the use cases of `fenhe_app` and prints what they return (the binary
//! itself keeps only wiring, demo, simulate, packet and bench). Errors reach this level as
//! `anyhow::Error`, are printed once, and exit with 2.

use std::process::ExitCode;

use clap::Parser;

mod bench;
mod cli;
mod cmd;
mod demo;
mod demo_supervision;
mod logging;
mod os;
mod packet;
mod server;
mod simulate;
// The aligned text tables live in fenhe-app with the packet explanation that uses them.
use fenhe_app::text_table;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A reader that went away (`fenhe packet check big.txt | head`) is not an error.
            if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(is_broken_pipe)) {
                return ExitCode::SUCCESS;
            }
            eprintln!("fenhe: error: {e:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}

fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}
