//! `wasi020-command`: a wasi:cli command built against the WASI 0.2.0 WIT
//! (the `wasi` crate's 0.13.0 release), not the 0.2.12 that socklab's host
//! ships. It prints its arguments and `$GREETING` through `wasi:cli/stdout`
//! and exits with success, or with failure when its first argument is
//! `fail`.
//!
//! It exports `wasi:cli/run@0.2.0`. Its imports are recorded at the newest
//! 0.2 version among what it links: the wasm32-wasip2 toolchain's own
//! libraries bring 0.2.6, so they read `@0.2.6` — still an older minor
//! version than the host's, which is the point.

use wasi::cli::{environment, stdout};

struct Command;

impl wasi::exports::cli::run::Guest for Command {
    fn run() -> Result<(), ()> {
        let args = environment::get_arguments();
        let greeting = environment::get_environment()
            .into_iter()
            .find_map(|(k, v)| (k == "GREETING").then_some(v))
            .unwrap_or_default();
        let line = format!("wasi 0.2.0 command: {} {greeting}\n", args[1..].join(" "));
        stdout::get_stdout()
            .blocking_write_and_flush(line.as_bytes())
            .map_err(|_| ())?;
        if args.get(1).is_some_and(|a| a == "fail") {
            Err(())
        } else {
            Ok(())
        }
    }
}

wasi::cli::command::export!(Command);
