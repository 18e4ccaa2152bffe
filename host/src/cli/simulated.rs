//! A command on the simulated network (`--network simulated`): which
//! commands may run there, the seed, the thread the simulation runs on, its
//! event log (`--events`), how long it took in each clock, and the second
//! run of `--check-determinism`.
//!
//! The command's own code is the same as on the real network: it runs
//! inside `Sim::block_on`, where [`tasks`](crate::runtime::tasks) spawns,
//! sleeps and times out on the simulation.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use socklab_sim::Sim;

use super::args::{Cli, Command, Network};
use super::interrupt::Interrupt;
use super::{commands, determinism, exit};
use crate::runtime::Runtime;
use crate::runtime::link::UdpSockets;
use crate::{bad_input, say};

/// `cli` with `--network simulated` when its experiment file says
/// `network = "simulated"`, and the file's seed (read once here, for the
/// simulation's seed; `plan::load` reads it whole later).
pub fn from_file(mut cli: Cli) -> (Cli, Option<u64>) {
    let Command::Lab(args) = &cli.command else {
        return (cli, None);
    };
    let Some((simulated, seed)) = crate::experiment::plan::peek(&args.file) else {
        return (cli, None);
    };
    if simulated == Some(true) {
        cli.network = Network::Simulated;
    }
    (cli, Some(seed))
}

/// Refuse what cannot mean anything on the chosen network: a command that
/// talks to the outside world (or runs no guest) on the simulated one, and
/// `--seed`/`--events`/`--check-determinism` on the real one.
pub fn check(cli: &Cli) -> Result<()> {
    let name = match &cli.command {
        Command::Demo(_) | Command::Exchange(_) | Command::Run(_) | Command::Lab(_) => None,
        Command::Serve(_) => Some("serve"),
        Command::Connect(_) => Some("connect"),
        Command::Bench(_) => Some("bench"),
        Command::Guests => Some("guests"),
        Command::Inspect(_) => Some("inspect"),
    };
    match (cli.network, name) {
        (Network::Simulated, Some(name)) => bad_input!(
            "`{name}` {} and cannot run on --network simulated; drop the flag, or use demo, exchange, run or lab",
            match name {
                "serve" | "connect" => "talks to the real network",
                "bench" => "measures the real network",
                _ => "runs no guest",
            }
        ),
        (Network::Real, _) if determinism::requested(cli) => bad_input!(
            "--check-determinism runs the experiment twice on the simulated network; add --network simulated or drop it"
        ),
        (Network::Simulated, _) if determinism::requested(cli) && cli.audit.is_some() => {
            bad_input!(
                "--check-determinism runs the experiment twice, and --audit would log both runs in one file; drop one of the two"
            )
        }
        (Network::Simulated, _) if cli.udp_sockets != UdpSockets::Socklab => bad_input!(
            "--udp-sockets chooses the real network's UDP; the simulated network has its own sockets, so drop the flag or use --network real"
        ),
        (Network::Real, _) if cli.events.is_some() => bad_input!(
            "--events logs the simulated network's events; add --network simulated or drop it"
        ),
        (Network::Real, _) if seed_of(cli).is_some() => {
            bad_input!("--seed seeds the simulated network; add --network simulated or drop it")
        }
        _ => Ok(()),
    }
}

/// The `--seed` of demo, exchange and run.
fn seed_of(cli: &Cli) -> Option<u64> {
    match &cli.command {
        Command::Demo(args) => args.sim.seed,
        Command::Exchange(args) => args.sim.seed,
        Command::Run(args) => args.sim.seed,
        _ => None,
    }
}

/// The simulation's seed: `--seed`, or for `lab` the experiment's own seed
/// (`file_seed`, so that its links draw the fates its relays would), else 0.
fn simulation_seed(cli: &Cli, file_seed: Option<u64>) -> u64 {
    match &cli.command {
        Command::Lab(args) => args.seed.or(file_seed).unwrap_or(0),
        _ => seed_of(cli).unwrap_or(0),
    }
}

/// Run `cli`'s command inside a simulation seeded with its `--seed` (0 by
/// default), on a thread of its own; write the event log; say on stderr how
/// much simulated time took how much real time. With `--check-determinism`,
/// run it a second time and compare ([`determinism`]). The exit code.
pub async fn execute(
    runtime: &Arc<Runtime>,
    cli: Cli,
    file_seed: Option<u64>,
    interrupt: &Interrupt,
) -> Result<i32> {
    let seed = simulation_seed(&cli, file_seed);
    let events = cli.events.clone();
    let events_file = match &events {
        // Opened before anything runs, as every output is.
        Some(path) => Some(
            File::create(path)
                .with_context(|| format!("cannot create the events file {}", path.display()))?,
        ),
        None => None,
    };
    let twin = determinism::requested(&cli).then(|| determinism::Twin::of(&cli));
    let cli = match &twin {
        Some(twin) => twin.first(cli),
        None => cli,
    };
    let (code, sim, wall) = simulate(runtime, cli, seed, interrupt);
    // A command refused before it ran (bad input) says only why.
    let code = match code {
        Ok(Err(refused)) => return Err(refused),
        Ok(Ok(code)) => code,
        Err(stalled) => {
            say!("error: {stalled}; every guest was waiting for something that never comes");
            exit::FAILED
        }
    };
    say!(
        "simulated network (seed {seed}): {:.6} s of simulated time in {:.3} s of real time",
        sim.now_micros() as f64 / 1e6,
        wall.as_secs_f64()
    );
    if let (Some(path), Some(file)) = (&events, events_file) {
        write_events(&sim, path, file)?;
    }
    match twin {
        Some(twin) if code != exit::INTERRUPTED => {
            let (again, sim_again, _) = simulate(runtime, twin.second_cli, seed, interrupt);
            let again = match again {
                Ok(Ok(exit::INTERRUPTED)) => {
                    say!("--check-determinism: Ctrl-C cut the second run short; nothing compared");
                    return Ok(exit::INTERRUPTED);
                }
                Ok(Ok(code)) => code,
                Ok(Err(refused)) => return Err(refused),
                Err(_) => exit::FAILED,
            };
            let first = determinism::Run::of(&sim, &twin.first_kept, code);
            let second = determinism::Run::of(&sim_again, &twin.second_kept, again);
            let (line, code) = determinism::compare(seed, &first, &second);
            say!("{line}");
            Ok(code)
        }
        _ => Ok(code),
    }
}

/// One run of `cli` in a new simulation of `seed`, on a thread of its own
/// (the guests' tasks, sleeps and sockets are the simulation's): what the
/// command returned, the world it ran in, how much real time it took.
fn simulate(
    runtime: &Arc<Runtime>,
    cli: Cli,
    seed: u64,
    interrupt: &Interrupt,
) -> (
    Result<Result<i32>, socklab_sim::Stalled>,
    socklab_sim::Handle,
    Duration,
) {
    let tokio = tokio::runtime::Handle::current();
    let started = Instant::now();
    let (code, sim) = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let thread = scope.spawn(|| {
                // wasmtime-wasi's stdio may reach for tokio.
                let _tokio = tokio.enter();
                let mut sim = Sim::new(seed);
                let code = sim.block_on(commands::dispatch(runtime, cli, interrupt));
                (code, sim.handle())
            });
            thread.join().expect("the simulation's thread panicked")
        })
    });
    (code, sim, started.elapsed())
}

/// The simulation's events as JSON Lines in `file` (`path`).
fn write_events(sim: &socklab_sim::Handle, path: &Path, file: File) -> Result<()> {
    let mut out = BufWriter::new(file);
    sim.write_jsonl(&mut out)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write the events file {}", path.display()))
}
