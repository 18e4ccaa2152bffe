//! The `sim` group: how fast the simulated network runs, on its own and
//! under guests.
//!
//! - `sim-events`: simulated events per wall second of a Rust-only
//!   workload ([`udp_echo_events`]): no guest, only the executor, the
//!   timers, the links and the event log.
//! - `sim-thousand-*`: `examples/sim/thousand-clients.toml` (1,000 UDP and
//!   1,000 TCP client guests) as a child `socklab lab` process
//!   ([`super::sim_lab`]): its wall time, its peak RSS, and its event
//!   log's events per wall second.
//! - `sim-speed:NAME`: simulated seconds per wall second of every
//!   `examples/sim/*.toml`, found when the bench runs.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use anyhow::{Result, anyhow};
use socklab_sim::Sim;

use super::Ctx;
use super::sim_lab::{self, LabRun};
use super::table::{Goal, Row, median};

/// The Rust-only workload's clients, all on one echo server.
const CLIENTS: usize = 100;

/// The example whose wall time and RSS the `sim-thousand-*` rows show.
pub const THOUSAND: &str = "thousand-clients";

/// The `sim` group's rows.
pub async fn sim(ctx: &Ctx) -> Result<Vec<Row>> {
    let trips = if ctx.scale.rounds > 4 { 2_000 } else { 500 };
    let runs = if ctx.scale.rounds > 4 { 3 } else { 1 };
    let mut rates = Vec::new();
    let mut count = 0;
    for _ in 0..runs {
        let (events, secs) = tokio::task::spawn_blocking(move || udp_echo_events(CLIENTS, trips))
            .await
            .map_err(|e| anyhow!("the sim-events workload panicked: {e}"))??;
        rates.push(events as f64 / secs);
        count = events;
    }
    let mut rows = vec![
        Row::alone(
            "sim-events",
            format!("simulated events per wall second: {CLIENTS} Rust UDP clients x {trips} echoes"),
            "events/s",
            median(&rates),
            Goal::AtLeast(1e6),
        )
        .note(Some(format!(
            "{count} events of the event log per run (send, arrive, receive at both ends), median of {runs}"
        ))),
    ];
    rows.extend(examples(ctx, runs).await?);
    Ok(rows)
}

/// Runs `clients` UDP clients, each on a node of its own with the default
/// 100 us link to one echo server's node, each making `trips` round trips
/// of 64 bytes one after another, inside `Sim::block_on`: how many events
/// the event log holds and how many wall seconds the simulation took.
pub fn udp_echo_events(clients: usize, trips: usize) -> Result<(usize, f64)> {
    let mut sim = Sim::new(1);
    let handle = sim.handle();
    let started = Instant::now();
    let done = sim.block_on(async move {
        let server = handle.add_node("server");
        let addr = SocketAddr::new(server.ipv4().into(), 7);
        let echo = Rc::new(server.udp_bind(addr)?);
        let echoing = socklab_sim::spawn({
            let echo = echo.clone();
            async move {
                while let Ok((data, from)) = echo.recv_from().await {
                    let _ = echo.send_to(&data, from);
                }
            }
        });
        let mut tasks = Vec::new();
        for i in 0..clients {
            let node = handle.add_node(&format!("c{i}"));
            let socket = node.udp_bind(SocketAddr::new(node.ipv4().into(), 0))?;
            tasks.push(socklab_sim::spawn(async move {
                for _ in 0..trips {
                    socket.send_to(&[7; 64], addr)?;
                    socket.recv_from().await?;
                }
                Ok::<_, socklab_sim::ErrorCode>(())
            }));
        }
        for task in tasks {
            task.await.map_err(|e| anyhow!("a client task: {e}"))??;
        }
        echoing.abort();
        anyhow::Ok(handle.event_count())
    });
    let secs = started.elapsed().as_secs_f64();
    let events = done.map_err(|stalled| anyhow!("the sim-events workload: {stalled}"))??;
    Ok((events, secs))
}

/// The rows of every example under `examples/sim/`, each run `runs`
/// times as a child process.
async fn examples(ctx: &Ctx, runs: usize) -> Result<Vec<Row>> {
    let (Some(exe), Some(dir)) = (ctx.socklab_exe.clone(), sim_lab::examples_dir()) else {
        let why = if ctx.socklab_exe.is_none() {
            "the socklab binary is unknown"
        } else {
            "no examples/sim/ directory here or in the source tree"
        };
        return Ok(thousand_rows(None, Some(why)));
    };
    let scratch = ctx.scratch.path().to_path_buf();
    let limit = ctx.scale.limit * 4;
    let runs_of =
        tokio::task::spawn_blocking(move || sim_lab::run_all(&exe, &dir, &scratch, runs, limit))
            .await
            .map_err(|e| anyhow!("the sim examples' runs panicked: {e}"))??;
    let mut rows = Vec::new();
    let thousand = runs_of.iter().find(|(name, _)| name == THOUSAND);
    rows.extend(thousand_rows(
        thousand.map(|(_, runs)| runs.as_slice()),
        Some("examples/sim/thousand-clients.toml is not there"),
    ));
    for (name, runs) in &runs_of {
        let speed: Vec<f64> = runs.iter().map(LabRun::speed).collect();
        let first = &runs[0];
        rows.push(
            Row::alone(
                format!("sim-speed:{name}"),
                format!("examples/sim/{name}.toml: simulated seconds per wall second"),
                "x",
                median(&speed),
                Goal::None,
            )
            .note(Some(format!(
                "{:.3} s simulated in {:.3} s of the simulation's real time",
                first.simulated_secs, first.real_secs
            ))),
        );
    }
    Ok(rows)
}

/// The three `sim-thousand-*` rows, from the runs of the 1,000-client
/// example (or why they are missing).
fn thousand_rows(runs: Option<&[LabRun]>, why: Option<&str>) -> Vec<Row> {
    let wall_what = "examples/sim/thousand-clients.toml as a process, spawn to exit";
    let rss_what = "its peak RSS (the child's VmHWM)";
    let events_what = "its event log's events per second of the simulation's real time";
    let Some(runs) = runs else {
        let why = why.unwrap_or("not run");
        return vec![
            Row::not_measured("sim-thousand-wall", wall_what, "s", Goal::AtMost(10.0), why),
            Row::not_measured("sim-thousand-rss", rss_what, "MiB", Goal::None, why),
            Row::not_measured(
                "sim-thousand-events",
                events_what,
                "events/s",
                Goal::None,
                why,
            ),
        ];
    };
    let wall: Vec<f64> = runs.iter().map(|r| r.wall_secs).collect();
    let rss: Vec<f64> = runs.iter().map(|r| r.peak_rss_mib).collect();
    let rate: Vec<f64> = runs.iter().map(|r| r.events as f64 / r.real_secs).collect();
    vec![
        Row::alone(
            "sim-thousand-wall",
            wall_what,
            "s",
            median(&wall),
            Goal::AtMost(10.0),
        )
        .note(Some(format!(
            "the simulation itself: {:.2} s of real time for {:.4} s simulated",
            runs[0].real_secs, runs[0].simulated_secs
        ))),
        Row::alone(
            "sim-thousand-rss",
            rss_what,
            "MiB",
            median(&rss),
            Goal::None,
        ),
        Row::alone(
            "sim-thousand-events",
            events_what,
            "events/s",
            median(&rate),
            Goal::None,
        )
        .note(Some(format!("{} events", runs[0].events))),
    ]
}
