//! The `socklab` binary: parse the command line, run it, exit with its code.
//! Everything else lives in the library (`lib.rs` says where to start).

use clap::Parser;
use socklab::error::BadInput;
use socklab::report::{EXIT_BAD_INPUT, EXIT_FAILED};

fn main() {
    let cli = match socklab::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are not errors; print them as clap does.
        Err(e) if !e.use_stderr() => e.exit(),
        // A usage error is one line (what was wrong and where to look), so
        // scripts and people see it whole.
        Err(e) => {
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("{} (see `socklab --help`)", message.join(" "));
            std::process::exit(EXIT_BAD_INPUT);
        }
    };
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
