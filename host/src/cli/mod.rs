//! The command line: what `main.rs` parses ([`args`], [`values`]) and what
//! each command drives ([`commands`], one short function each), the usage
//! errors ([`usage`]), Ctrl-C and SIGTERM ([`interrupt`]), every exit
//! code ([`exit`]), a command on the simulated network (`simulated`:
//! its seed, its thread, its event log) and `lab --check-determinism`'s
//! comparison of two runs (`determinism`).

mod args;
mod commands;
mod determinism;
pub mod exit;
mod guests;
pub mod interrupt;
mod simulated;
pub mod usage;
mod values;

use std::sync::Arc;

use anyhow::{Context, Result};

pub use self::args::*;
pub use self::interrupt::Interrupt;
pub use self::values::{parse_addr, parse_allow, parse_deny, parse_param};
use crate::bad_input;
use crate::grants::audit::Audit;
use crate::runtime::Runtime;
use crate::runtime::cache::Cache;
use crate::say;

/// What must happen before the async runtime starts its first thread:
/// `socklab bench` (without `--no-pin`) pins the process's one thread to
/// one CPU here, so every thread and child process after it inherits the
/// mask.
pub fn before_runtime(cli: &Cli) -> Result<()> {
    if let Command::Bench(args) = &cli.command
        && !args.no_pin
    {
        crate::bench::pin::pin_this_thread()
            .context("pinning the bench to one CPU (--no-pin runs it unpinned)")?;
    }
    Ok(())
}

/// Run the parsed command; the result is the process's exit code.
pub async fn execute(cli: Cli) -> Result<i32> {
    // Caught before anything else happens; a signal ends the process at once
    // until a command has something to report.
    let interrupt = Interrupt::install()?;
    if let Some(limit) = cli.wall_limit {
        interrupt.arm_wall_limit(limit)?;
    }
    let (cli, file_seed) = simulated::from_file(cli);
    simulated::check(&cli)?;
    crate::limits::raise_open_file_limit();
    let runtime = Arc::new(runtime_for(&cli)?);
    let code = match cli.network {
        Network::Real => commands::dispatch(&runtime, cli, &interrupt).await?,
        Network::Simulated => simulated::execute(&runtime, cli, file_seed, &interrupt).await?,
    };
    // Stopped by --wall-limit, not by a signal: a limit's exit code.
    let code = if interrupt.wall_limit_hit() {
        exit::LIMIT
    } else {
        code
    };
    Ok(with_audit_checked(&runtime, code))
}

/// The runtime the global flags ask for: its network, its guest
/// directory, `-v`, the audit file (its first line written now), the
/// compiled cache.
fn runtime_for(cli: &Cli) -> Result<Runtime> {
    use crate::runtime::engine;
    let flavor = match cli.network {
        Network::Real => engine::real(cli.udp_sockets),
        Network::Simulated => &engine::SIMULATED,
    };
    let mut runtime = Runtime::of(flavor, cli.guest_dir.clone())?;
    runtime.verbose = cli.verbose;
    if let Some(path) = &cli.audit {
        let audit = match Audit::create(path) {
            Ok(audit) => audit,
            Err(e) => bad_input!("{e:#}; give a writable path to --audit"),
        };
        audit.start(cli.network == Network::Simulated)?;
        runtime.audit = Some(audit);
    }
    if !cli.no_cache {
        // Without a usable cache directory socklab still runs, compiling
        // each time.
        runtime.cache = Cache::default_dir().and_then(|dir| Cache::open(dir).ok());
    }
    Ok(runtime)
}

/// The command's exit code, or 1 when the audit file could not be written
/// whole (said on stderr, naming the file), unless it was interrupted.
fn with_audit_checked(runtime: &Runtime, code: i32) -> i32 {
    let Some(audit) = &runtime.audit else {
        return code;
    };
    audit.flush();
    match audit.failed() {
        Some(why) => {
            say!("error: {why}");
            if code == exit::INTERRUPTED {
                code
            } else {
                exit::FAILED
            }
        }
        None => code,
    }
}
