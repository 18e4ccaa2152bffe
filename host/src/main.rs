//! The `socklab` binary: parse the command line, run it, exit with its code.
//! Everything else lives in the library (`lib.rs` says where to start).

use clap::Parser;
use socklab::cli::exit::{BAD_INPUT as EXIT_BAD_INPUT, FAILED as EXIT_FAILED};
use socklab::cli::usage::{self, Refusal};
use socklab::error::BadInput;
use socklab::say;

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match socklab::cli::Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => match usage::explain(&e, &argv) {
            Refusal::Shown => e.exit(),
            Refusal::Help(help) => {
                socklab::output::stderr_line(help.trim_end());
                std::process::exit(EXIT_BAD_INPUT);
            }
            Refusal::Line(line) => {
                say!("{line}");
                std::process::exit(EXIT_BAD_INPUT);
            }
        },
    };
    if let Err(e) = socklab::cli::before_runtime(&cli) {
        say!("error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(EXIT_FAILED);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            say!("error: cannot start the async runtime: {e}");
            std::process::exit(EXIT_FAILED);
        }
    };
    let code = match runtime.block_on(socklab::cli::execute(cli)) {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<BadInput>().is_some() => {
            say!("error: {e}");
            EXIT_BAD_INPUT
        }
        Err(e) => {
            say!("error: {}", format!("{e:#}").replace('\n', " "));
            EXIT_FAILED
        }
    };
    // Guests' tasks may still be winding down; the report is out, so leave.
    std::process::exit(code);
}
