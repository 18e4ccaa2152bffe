//! Running a plan: start the servers, give every client instance its own
//! relay in front of its server, run the clients (all at once, round after
//! round), then stop everything and gather what each part saw.
//!
//! The client is wired to its relay: its grants name the relay's address,
//! the only place it may reach. The server sees the relay's upstream socket
//! as its peer. Each link's two legs go into the report and, with
//! `--audit`, into the audit file as a `link` line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use socklab_relay::{Capture, LinkStats};
use tokio::sync::watch;

use super::fates::{Delivered, Fate, RunId, fates_of};
use super::plan::Plan;
use crate::exchange::{self, RunningServer};
use crate::grants::audit::{Audit, now_secs};
use crate::report::{ClientRecord, ServerRecord};
use crate::roles::Transport;
use crate::runtime::{Runtime, tasks};
use crate::say;

/// How a lab run is carried out, beyond the file.
#[derive(Debug, Default)]
pub struct Options {
    /// Keep what the relays carried, for `--pcap`.
    pub capture: bool,
}

/// One client instance's run in one round.
#[derive(Debug, Serialize)]
pub struct ClientRun {
    /// The link's name: `client#instance->server`, with `/rN` for round N
    /// when there are several. Every fate on it is drawn from this name.
    pub link: String,
    /// The client node.
    pub client: String,
    /// The server node.
    pub server: String,
    /// The link's transport.
    pub transport: Transport,
    /// Which round (from 0).
    pub repeat: u32,
    /// Which copy of the client node (from 0).
    pub instance: u32,
    /// Where the client was wired: the relay (on the simulated network,
    /// where the link itself impairs, the server).
    pub relay: SocketAddr,
    /// The server's address behind it.
    pub server_addr: SocketAddr,
    /// Microseconds from the experiment's start.
    pub started_at_us: f64,
    /// When it ended, µs from the experiment's start.
    pub ended_at_us: f64,
    /// When the clock of `relay_stats`' events reads 0, µs from the
    /// experiment's start.
    #[serde(skip)]
    pub relay_zero_us: f64,
    /// The client guest: grants, refusals, limits, error (its messages are
    /// in the fates, so the JSON leaves them out here).
    #[serde(rename = "guest", serialize_with = "guest_only")]
    pub record: ClientRecord,
    /// What the relay did, per direction, and the legs it carried.
    pub relay_stats: LinkStats,
}

impl ClientRun {
    /// When the client ended, on the clock of its relay's events.
    pub fn relay_end_us(&self) -> u64 {
        (self.ended_at_us - self.relay_zero_us).max(0.0) as u64
    }
}

/// Everything a run produced.
pub struct LabRun {
    /// What ran.
    pub plan: Plan,
    /// Each server's record.
    pub servers: Vec<ServerRecord>,
    /// Each client instance's run, round after round.
    pub clients: Vec<ClientRun>,
    /// Every message's fate.
    pub fates: Vec<Fate>,
    /// What the relays carried, when a capture was asked for.
    pub capture: Option<Capture>,
    /// How long the whole run took: wall-clock time on the real network,
    /// simulated time on the simulated one.
    pub elapsed: Duration,
    /// Whether Ctrl-C cut the run short.
    pub interrupted: bool,
}

/// Run `plan`. Guest failures end up in the records; an `Err` means the host
/// itself could not go on (a relay could not bind).
///
/// When `interrupt` resolves (Ctrl-C), the clients still running are
/// stopped, no further round starts, and the report holds what finished:
/// a client cut short keeps the fates its relay had already decided
/// ([`super::partial`]), the rest of its messages are `interrupted`.
pub async fn run(
    runtime: &Arc<Runtime>,
    plan: Plan,
    options: &Options,
    interrupt: impl Future<Output = ()>,
) -> Result<LabRun> {
    let start = Instant::now();
    tokio::pin!(interrupt);
    let capture = options.capture.then(Capture::new);
    let running = match start_servers(runtime, &plan).await {
        Ok(running) => running,
        // Nothing to wire clients to: report the servers.
        Err(servers) => {
            return Ok(LabRun {
                plan,
                servers,
                clients: Vec::new(),
                fates: Vec::new(),
                capture,
                elapsed: tasks::since(start),
                interrupted: false,
            });
        }
    };
    // Every client task watches this; Ctrl-C sets it.
    let (stop_tx, stop_rx) = watch::channel(false);
    let rounds = super::rounds::Rounds {
        runtime,
        plan: &plan,
        server_addrs: running.iter().map(|s| s.connect_addr()).collect(),
        server_nodes: running.iter().map(|s| s.node().cloned()).collect(),
        capture: capture.clone(),
        start,
        stop: stop_rx,
        bar: progress(&plan),
    };
    let mut clients = Vec::new();
    for repeat in 0..plan.repeats {
        if *stop_tx.borrow() {
            break;
        }
        let round = rounds.spawn(repeat).await?;
        clients.extend(
            rounds
                .wait(round, &clients, &mut interrupt, &stop_tx)
                .await?,
        );
    }
    rounds.bar.finish_and_clear();
    let interrupted = *stop_tx.borrow();
    let mut servers = Vec::new();
    for server in running {
        servers.push(if interrupted {
            server.stop_interrupted().await
        } else {
            server.stop().await
        });
    }
    let fates = all_fates(&plan, &clients);
    if let Some(audit) = &runtime.audit {
        write_link_lines(audit, &clients);
    }
    Ok(LabRun {
        plan,
        servers,
        clients,
        fates,
        capture,
        elapsed: tasks::since(start),
        interrupted,
    })
}

/// Start every server of `plan`; if one fails, stop the others and give
/// back every server's record.
async fn start_servers(
    runtime: &Arc<Runtime>,
    plan: &Plan,
) -> Result<Vec<RunningServer>, Vec<ServerRecord>> {
    let mut running: Vec<RunningServer> = Vec::new();
    for node in &plan.servers {
        let spec = node.spec.clone().placed(&node.name);
        match exchange::start_server(runtime, spec).await {
            Ok(server) => running.push(server),
            Err(record) => {
                let mut servers = Vec::new();
                for server in running {
                    servers.push(server.stop().await);
                }
                servers.push(*record);
                return Err(servers);
            }
        }
    }
    Ok(running)
}

/// The progress bar (drawn only on a terminal), or the one stderr line
/// that says what is under way.
fn progress(plan: &Plan) -> ProgressBar {
    let total: u64 = plan
        .clients
        .iter()
        .map(|c| c.spec.messages.len() as u64 * u64::from(c.instances))
        .sum::<u64>()
        * u64::from(plan.repeats);
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} messages {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    if bar.is_hidden() {
        let links: u32 = plan.clients.iter().map(|c| c.instances).sum();
        say!(
            "lab: {} links, {total} messages in all, {} {}; Ctrl-C stops and reports what finished",
            links,
            plan.repeats,
            if plan.repeats == 1 { "round" } else { "rounds" }
        );
    }
    bar
}

/// Every message's fate: from the client's own report when it finished,
/// from what its relay saw when Ctrl-C cut it short.
fn all_fates(plan: &Plan, clients: &[ClientRun]) -> Vec<Fate> {
    let mut fates = Vec::new();
    for run in clients {
        let Some(node) = plan.clients.iter().find(|c| c.name == run.client) else {
            continue;
        };
        let id = RunId {
            repeat: run.repeat,
            client: &run.client,
            instance: run.instance,
            started_at_us: run.started_at_us,
        };
        if run.record.guest.interrupted {
            fates.extend(super::partial::fates(&id, node, run));
        } else {
            let delivered = match (node.transport, node.numbered) {
                (Transport::Udp, true) => Delivered::of_udp(&run.relay_stats, run.relay_end_us()),
                _ => Delivered::default(),
            };
            fates.extend(fates_of(
                &id,
                node.numbered,
                &run.record.messages,
                &delivered,
            ));
        }
    }
    fates
}

fn write_link_lines(audit: &Audit, clients: &[ClientRun]) {
    for run in clients {
        for leg in &run.relay_stats.legs {
            audit.write(&LinkLine {
                time: now_secs(),
                kind: "link",
                link: &run.link,
                transport: run.transport,
                client: leg.client,
                relay: leg.relay,
                upstream: leg.upstream,
                server: leg.server,
            });
        }
    }
    audit.flush();
}

/// A link's two legs, as one line of the audit file.
#[derive(Serialize)]
struct LinkLine<'a> {
    time: f64,
    kind: &'static str,
    link: &'a str,
    transport: Transport,
    /// The client guest's socket, which reached `relay`.
    client: SocketAddr,
    relay: SocketAddr,
    /// The relay's socket, which the server saw as its peer.
    upstream: SocketAddr,
    server: SocketAddr,
}

fn guest_only<S: serde::Serializer>(record: &ClientRecord, s: S) -> Result<S::Ok, S::Error> {
    record.guest.serialize(s)
}
