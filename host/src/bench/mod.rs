//! `socklab bench` (and `cargo bench`): what the sandbox costs, measured
//! against a native Rust baseline in the same process and the same run.
//!
//! Native and guest are driven by the same client code ([`drive`]), in
//! alternating rounds (native first in even rounds, guest first in odd
//! ones), and the guests run as users run them: started by
//! [`exchange::start_server`](crate::exchange::start_server) with only the
//! wiring's grants, the default limits, and an audit file. Latencies pool
//! every round's samples; rates are the median of the rounds. Ratios are
//! socklab / baseline, for times and rates alike.
//!
//! The rows, by group (`--only GROUP`):
//! - `tcp-rtt`: 64-byte ping-pong, native client, against `tcp-echo-server`
//!   and a native tokio echo server: RTT p50 and p99.
//! - `guest-client`: the `tcp-client` guest against `tcp-echo-server` (its
//!   own per-message `rtt_ns`), against the native client and server.
//! - `bulk`: bulk echo over one connection (writer and reader threads).
//! - `udp`: datagrams per second, 64 B and 1,400 B, one in flight
//!   (`udp-pingpong-*`) and 16 (`udp-*`), against `udp-echo-server`.
//! - `connect`: connections per second (connect, one byte back, close).
//! - `concurrent`: 1,000 connections held open on one server, all doing
//!   ping-pong at once: RTT p50 and p99.
//! - `start` ([`start`]): cold start (a fresh `Runtime`, load, compile,
//!   instantiate) without and with the compiled cache, and instantiation
//!   from the `InstancePre` (store included).
//! - `memory` ([`start`]): resident memory per idle `tcp-echo-server`, from
//!   the process's RSS with 100 of them listening.
//! - `wasmtime-run` ([`versus`]): `net-command ping` as a whole process under
//!   `socklab run` and under `wasmtime run` (when `wasmtime` is on PATH).
//! - `sim` ([`sim`]): the simulated network: events per wall second of a
//!   Rust-only workload, the 1,000-client example's wall time, peak RSS and
//!   events per second, and every `examples/sim/` example's simulated
//!   seconds per wall second (child `socklab lab` processes).
//!
//! Figures are wall-clock on a shared machine: only ratios measured side by
//! side hold from run to run. On the two-vCPU VMs this was written on, the
//! native server's RTT is bimodal from one connection to the next (p50 of
//! a round 15-20 us or 55-65 us, with nothing else running) unless every
//! thread is on one CPU, which is why the bench pins the whole process
//! ([`pin`]; `--no-pin` does not), rounds alternate, every round's samples
//! are pooled, and a row whose rounds disagree (their p50s more than
//! [`UNSTABLE`] apart) says `unstable` rather than met or missed. A `std::net`
//! thread-per-connection server was tried as the baseline and was worse
//! for it: 48-81 us, every round, while a tokio server shares the guests'
//! runtime and measures only what the sandbox adds.

mod drive;
mod native;
mod net;
pub mod pin;
mod sim;
mod sim_lab;
mod start;
mod table;
mod versus;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

pub use self::table::{Goal, Row, UNSTABLE};
use crate::grants::audit::Audit;
use crate::runtime::Runtime;
use crate::runtime::cache::Cache;
use crate::runtime::engine::{self, Flavor};
use crate::runtime::link::UdpSockets;
use crate::version::{SOCKLAB_VERSION, WASMTIME_VERSION};

/// A group of rows, as `--only` names it; rows print in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)] // plain comments: clap would print doc comments in --help
pub enum Group {
    // 64-byte ping-pong RTT, native client, guest and native servers.
    TcpRtt,
    // The `tcp-client` guest's own RTTs against `tcp-echo-server`.
    GuestClient,
    // Bulk echo over one connection.
    Bulk,
    // Datagrams per second, 16 in flight.
    Udp,
    // Connections per second.
    Connect,
    // 1,000 connections in ping-pong at once.
    Concurrent,
    // Cold and warm start, instantiation.
    Start,
    // Resident memory per idle guest.
    Memory,
    // `socklab run` against `wasmtime run` as whole processes.
    WasmtimeRun,
    // The simulated network: events per second, 1,000 clients, every example's speed.
    Sim,
}

/// What to run.
pub struct Options {
    /// Fewer messages and bytes per round: the whole bench in under a minute.
    pub quick: bool,
    /// Only these groups (all when empty).
    pub only: Vec<Group>,
    /// Where bundled guests are looked up first.
    pub guest_dir: Option<PathBuf>,
    /// The `socklab` binary, for the `wasmtime-run` row (it times whole
    /// processes); `None` leaves that row "not measured".
    pub socklab_exe: Option<PathBuf>,
    /// Whose UDP sockets the guests get: socklab's own, or wasmtime-wasi's
    /// for comparison (`--udp-sockets wasmtime-wasi`).
    pub udp_sockets: UdpSockets,
    /// Every thread (and child process) on one CPU: the process was pinned
    /// before its runtime started ([`pin::pin_this_thread`]), and the bench
    /// reads the CPU back. `--no-pin` clears it.
    pub pin: bool,
}

/// How much each row does per round.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Scale {
    /// Rounds per side, native and guest alternating.
    pub rounds: usize,
    /// Round trips per RTT round.
    pub pings: usize,
    /// Bytes echoed per bulk round.
    pub bulk_bytes: usize,
    /// Datagrams per UDP round.
    pub datagrams: usize,
    /// Connections per connect round.
    pub connects: usize,
    /// Connections held open in the concurrent row.
    pub concurrent_conns: usize,
    /// Round trips each of those connections makes.
    pub concurrent_pings: usize,
    /// Cold starts timed.
    pub cold_loads: usize,
    /// Warm starts (from the compiled cache) timed.
    pub warm_loads: usize,
    /// Instantiations timed.
    pub instantiations: usize,
    /// Idle guests started for the memory row.
    pub idle_guests: usize,
    /// Round trips of `net-command ping` in the wasmtime-run row.
    pub command_pings: usize,
    /// The most any one measurement may take.
    #[serde(serialize_with = "crate::bench::table::secs")]
    pub limit: Duration,
}

impl Scale {
    /// The scale of a full run, or of `--quick`.
    pub fn new(quick: bool) -> Scale {
        let pick = |full: usize, short: usize| if quick { short } else { full };
        Scale {
            // More rounds than the two: on a shared machine one
            // unlucky round moves a two-round median a long way.
            rounds: pick(6, 4),
            pings: pick(5_000, 2_000),
            bulk_bytes: pick(128 << 20, 32 << 20),
            datagrams: pick(20_000, 8_000),
            connects: pick(2_000, 500),
            concurrent_conns: 1_000,
            concurrent_pings: pick(20, 5),
            cold_loads: pick(3, 1),
            warm_loads: pick(20, 5),
            instantiations: pick(1_000, 200),
            idle_guests: 100,
            command_pings: pick(2_000, 500),
            limit: Duration::from_secs(pick(30, 10) as u64),
        }
    }
}

/// Everything one bench run measured.
#[derive(Serialize)]
pub struct Bench {
    /// socklab's version.
    pub socklab: &'static str,
    /// The wasmtime version the guests ran on.
    pub wasmtime: &'static str,
    /// Whether this was `--quick`.
    pub quick: bool,
    /// The one CPU every thread ran on; `None` with `--no-pin`.
    pub pinned_cpu: Option<usize>,
    /// Whose UDP sockets the guests had: `socklab` or `wasmtime-wasi`.
    pub udp_sockets: UdpSockets,
    /// How much each row did per round.
    pub scale: Scale,
    /// Every row measured, in group order.
    pub rows: Vec<Row>,
    /// Wall-clock time of the whole run.
    pub seconds: f64,
    /// Whether Ctrl-C stopped the run: `rows` holds the groups that finished.
    pub interrupted: bool,
}

/// What every row shares: the runtime the guests run in (audit on, its own
/// compiled cache) and the scale.
pub struct Ctx {
    /// The runtime the guests run in (audit on, a cache of its own).
    pub runtime: Arc<Runtime>,
    /// How much each row did per round.
    pub scale: Scale,
    /// `--guest-dir`, for the rows that make runtimes of their own.
    pub guest_dir: Option<PathBuf>,
    /// The flavor of those runtimes (the bench's own).
    pub flavor: &'static Flavor,
    /// The `socklab` binary, for the rows that time whole processes.
    pub socklab_exe: Option<PathBuf>,
    /// Holds the audit file and the cache; removed when the bench ends.
    pub scratch: tempfile::TempDir,
}

impl Ctx {
    /// Native or guest first, alternating round by round: a warm-up round
    /// (which the rows do not count: the first round of a side after its
    /// server started ran up to 1.4x off the others), then the counted ones.
    pub fn order(&self) -> impl Iterator<Item = Contender> {
        (0..=self.scale.rounds).flat_map(|round| {
            if round % 2 == 0 {
                [Contender::Native, Contender::Guest]
            } else {
                [Contender::Guest, Contender::Native]
            }
        })
    }
}

/// Which side of a comparison a measurement is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// The native Rust baseline.
    Native,
    /// The sandboxed guest.
    Guest,
}

/// Run the selected rows and collect their figures; when `interrupt`
/// resolves, the group under way is dropped and the rows so far returned.
pub async fn run_all(options: Options, interrupt: impl Future<Output = ()>) -> Result<Bench> {
    tokio::pin!(interrupt);
    let mut interrupted = false;
    crate::limits::raise_open_file_limit();
    let started = Instant::now();
    let pinned_cpu = if options.pin {
        Some(
            pin::pinned_cpu()
                .context("the bench runs pinned to one CPU (--no-pin runs it unpinned)")?,
        )
    } else {
        None
    };
    let scale = Scale::new(options.quick);
    let scratch = tempfile::tempdir().context("creating the bench's scratch directory")?;
    let flavor = engine::real(options.udp_sockets);
    let mut runtime = Runtime::of(flavor, options.guest_dir.clone())?;
    runtime.audit = Some(Audit::create(&scratch.path().join("audit.jsonl"))?);
    runtime.cache = Some(Cache::open(scratch.path().join("cache"))?);
    let ctx = Ctx {
        runtime: Arc::new(runtime),
        scale,
        guest_dir: options.guest_dir,
        flavor,
        socklab_exe: options.socklab_exe,
        scratch,
    };
    let wanted = |g: Group| options.only.is_empty() || options.only.contains(&g);
    let groups = <Group as clap::ValueEnum>::value_variants()
        .iter()
        .filter(|g| wanted(**g))
        .count();
    crate::say!(
        "bench: {groups} group{} of rows, {} rounds each; Ctrl-C stops and prints the rows that finished",
        if groups == 1 { "" } else { "s" },
        scale.rounds
    );
    let mut rows = Vec::new();
    for &group in <Group as clap::ValueEnum>::value_variants() {
        if !wanted(group) {
            continue;
        }
        let measured = tokio::select! {
            biased;
            () = &mut interrupt => None,
            rows = measure(&ctx, group) => Some(rows?),
        };
        match measured {
            Some(more) => rows.extend(more),
            None => {
                interrupted = true;
                break;
            }
        }
    }
    if let Some(audit) = &ctx.runtime.audit {
        audit.flush();
    }
    Ok(Bench {
        socklab: SOCKLAB_VERSION,
        wasmtime: WASMTIME_VERSION,
        quick: options.quick,
        pinned_cpu,
        udp_sockets: options.udp_sockets,
        scale,
        rows,
        seconds: started.elapsed().as_secs_f64(),
        interrupted,
    })
}

/// The rows of one group.
async fn measure(ctx: &Ctx, group: Group) -> Result<Vec<Row>> {
    match group {
        Group::TcpRtt => net::tcp_rtt(ctx).await,
        Group::GuestClient => net::guest_client(ctx).await,
        Group::Bulk => net::bulk(ctx).await,
        Group::Udp => net::udp(ctx).await,
        Group::Connect => net::connect(ctx).await,
        Group::Concurrent => net::concurrent(ctx).await,
        Group::Start => start::start(ctx).await,
        Group::Memory => start::memory(ctx).await,
        Group::WasmtimeRun => versus::wasmtime_run(ctx).await,
        Group::Sim => sim::sim(ctx).await,
    }
}

impl Bench {
    /// The table `socklab bench` prints.
    pub fn table(&self) -> String {
        table::render(self)
    }
}
