//! Running a plan: start the servers, give every client instance its own
//! relay in front of its server, run the clients (all at once, round after
//! round), then stop everything and gather what each part saw.
//!
//! The client is wired to its relay: its grants name the relay's address,
//! the only place it may reach. The server sees the relay's upstream socket
//! as its peer. Each link's two legs go into the report and, with
//! `--audit`, into the audit file as a `link` line.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use socklab_relay::{Capture, LinkSpec, LinkStats, Relay, start_tcp, start_udp};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::fates::{Delivered, Fate, RunId, fates_of};
use super::plan::{ClientNode, Impairments, Plan};
use crate::exchange::{self, RunningServer};
use crate::grants::audit::{Audit, now_secs};
use crate::report::{ClientRecord, ServerRecord};
use crate::roles::Transport;
use crate::runtime::Runtime;
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
    pub client: String,
    pub server: String,
    pub transport: Transport,
    pub repeat: u32,
    pub instance: u32,
    /// Where the client was wired: the relay.
    pub relay: SocketAddr,
    /// The server's address behind it.
    pub server_addr: SocketAddr,
    /// Microseconds from the experiment's start.
    pub started_at_us: f64,
    pub ended_at_us: f64,
    /// The client guest: grants, refusals, limits, error (its messages are
    /// in the fates, so the JSON leaves them out here).
    #[serde(rename = "guest", serialize_with = "guest_only")]
    pub record: ClientRecord,
    /// What the relay did, per direction, and the legs it carried.
    pub relay_stats: LinkStats,
}

/// Everything a run produced.
pub struct LabRun {
    pub plan: Plan,
    pub servers: Vec<ServerRecord>,
    pub clients: Vec<ClientRun>,
    pub fates: Vec<Fate>,
    /// What the relays carried, when a capture was asked for.
    pub capture: Option<Capture>,
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

    let mut running: Vec<RunningServer> = Vec::new();
    for node in &plan.servers {
        match exchange::start_server(runtime, node.spec.clone()).await {
            Ok(server) => running.push(server),
            Err(record) => {
                // Nothing to wire clients to: stop what started and report.
                let mut servers = Vec::new();
                for server in running {
                    servers.push(server.stop().await);
                }
                servers.push(*record);
                return Ok(LabRun {
                    plan,
                    servers,
                    clients: Vec::new(),
                    fates: Vec::new(),
                    capture,
                    elapsed: start.elapsed(),
                    interrupted: false,
                });
            }
        }
    }
    let server_addrs: Vec<SocketAddr> = running.iter().map(|s| s.connect_addr()).collect();
    let bar = progress(&plan);
    // Every client task watches this; Ctrl-C sets it.
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut clients = Vec::new();
    for repeat in 0..plan.repeats {
        if *stop_tx.borrow() {
            break;
        }
        bar.set_message(format!("round {} of {}", repeat + 1, plan.repeats));
        let mut tasks = JoinSet::new();
        let mut live: Vec<Weak<Relay>> = Vec::new();
        for node in &plan.clients {
            for instance in 0..node.instances {
                let server_name = &plan.servers[node.server].name;
                let server_addr = server_addrs[node.server];
                let mut link = format!("{}#{instance}->{server_name}", node.name);
                if plan.repeats > 1 {
                    link.push_str(&format!("/r{repeat}"));
                }
                let relay = start_relay(node, &link, plan.seed, server_addr, capture.clone())
                    .await
                    .with_context(|| format!("starting the relay of link {link}"))?;
                let relay = Arc::new(relay);
                live.push(Arc::downgrade(&relay));
                let runtime = runtime.clone();
                let spec = node.spec.clone();
                let id = (node.name.clone(), server_name.clone(), node.transport);
                let mut stop = stop_rx.clone();
                tasks.spawn(async move {
                    let started_at_us = micros(start.elapsed());
                    let stopped = async move {
                        let _ = stop.wait_for(|s| *s).await;
                    };
                    let record =
                        exchange::run_client_until(&runtime, &spec, relay.addr(), stopped).await;
                    let ended_at_us = micros(start.elapsed());
                    let relay_addr = relay.addr();
                    // The progress bar only borrows the relay now and then;
                    // once it lets go the relay stops with its final counts.
                    let relay_stats = match Arc::try_unwrap(relay) {
                        Ok(relay) => relay.stop().await,
                        Err(relay) => relay.stats(),
                    };
                    ClientRun {
                        link,
                        client: id.0,
                        server: id.1,
                        transport: id.2,
                        repeat,
                        instance,
                        relay: relay_addr,
                        server_addr,
                        started_at_us,
                        ended_at_us,
                        record,
                        relay_stats,
                    }
                });
            }
        }
        // Clients report only when they finish; meanwhile the bar follows
        // the messages their relays have carried towards the servers.
        let mut ticker = tokio::time::interval(Duration::from_millis(200));
        let mut finished = Vec::new();
        loop {
            tokio::select! {
                biased;
                () = &mut interrupt, if !*stop_tx.borrow() => {
                    stop_tx.send_replace(true);
                }
                joined = tasks.join_next() => match joined {
                    Some(Ok(run)) => finished.push(run),
                    Some(Err(e)) => return Err(anyhow!("a client task failed: {e}")),
                    None => break,
                },
                _ = ticker.tick(), if !bar.is_hidden() => {
                    let carried: u64 = live
                        .iter()
                        .filter_map(|r| r.upgrade().map(|r| r.stats().to_server.received))
                        .sum();
                    let done_before: u64 = clients.iter().map(|c: &ClientRun| c.record.messages.len() as u64).sum();
                    bar.set_position((done_before + carried).min(bar.length().unwrap_or(0)));
                }
            }
        }
        finished.sort_by(|a, b| (&a.client, a.instance).cmp(&(&b.client, b.instance)));
        clients.extend(finished);
        let done: u64 = clients.iter().map(|c| c.record.messages.len() as u64).sum();
        bar.set_position(done.min(bar.length().unwrap_or(0)));
    }
    bar.finish_and_clear();
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
        elapsed: start.elapsed(),
        interrupted,
    })
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
                (Transport::Udp, true) => {
                    let ran_us = (run.ended_at_us - run.started_at_us).max(0.0) as u64;
                    Delivered::of_udp(&run.relay_stats, ran_us)
                }
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
            audit.write_record(&LinkLine {
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

async fn start_relay(
    node: &ClientNode,
    link: &str,
    seed: u64,
    server: SocketAddr,
    capture: Option<Capture>,
) -> std::io::Result<Relay> {
    fn spec<I: Clone>(
        link: &str,
        seed: u64,
        server: SocketAddr,
        (to_server, to_client): (&I, &I),
        capture: Option<Capture>,
    ) -> LinkSpec<I> {
        LinkSpec {
            name: link.to_string(),
            seed,
            listen: SocketAddr::new(loopback_like(server.ip()), 0),
            server,
            to_server: to_server.clone(),
            to_client: to_client.clone(),
            capture,
        }
    }
    match &node.impairments {
        Impairments::Udp {
            to_server,
            to_client,
        } => start_udp(spec(link, seed, server, (to_server, to_client), capture)).await,
        Impairments::Tcp {
            to_server,
            to_client,
        } => start_tcp(spec(link, seed, server, (to_server, to_client), capture)).await,
    }
}

/// The loopback address of `ip`'s family.
fn loopback_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

fn guest_only<S: serde::Serializer>(record: &ClientRecord, s: S) -> Result<S::Ok, S::Error> {
    record.guest.serialize(s)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
