//! The `socklab` binary: parse the command line, run it, exit with its code.
//! Everything else lives in the library (`lib.rs` says where to start).

use clap::Parser;
use socklab::error::BadInput;
use socklab::report::{EXIT_BAD_INPUT, EXIT_FAILED};

fn main() {
    let cli = socklab::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(EXIT_FAILED);
        }
    };
    let code = match runtime.block_on(socklab::cli::run(cli)) {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<BadInput>().is_some() => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILED
        }
    };
    // Guests' tasks may still be winding down; the report is out, so leave.
    std::process::exit(code);
}
