//! The rounds of a lab run: every client instance of a round started with
//! its own relay in front of its server (on the simulated network, its own
//! node and a link to the server's node that impairs as the relay would),
//! then waited for while the progress bar follows what the relays carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use indicatif::ProgressBar;
use socklab_relay::{
    Capture, LinkSpec, Relay, TcpImpairments, UdpImpairments, start_tcp, start_udp,
};
use socklab_sim::{Link, Node};
use tokio::sync::watch;

use super::plan::{ClientNode, Impairments, Plan};
use super::runner::ClientRun;
use crate::exchange::{self, ClientSpec};
use crate::roles::Transport;
use crate::runtime::Runtime;
use crate::runtime::tasks::{self, Task};

/// What every round of a run shares.
pub struct Rounds<'a> {
    /// The runtime the clients run in.
    pub runtime: &'a Arc<Runtime>,
    /// What runs.
    pub plan: &'a Plan,
    /// Where each server of `plan` is reached.
    pub server_addrs: Vec<SocketAddr>,
    /// Each server's node, on the simulated network.
    pub server_nodes: Vec<Option<Node>>,
    /// What the relays carried, when `--pcap` asks.
    pub capture: Option<Capture>,
    /// When the run started: every time in the report counts from it.
    pub start: Instant,
    /// Becomes `true` on Ctrl-C.
    pub stop: watch::Receiver<bool>,
    /// The progress bar (hidden off a terminal).
    pub bar: ProgressBar,
}

/// One round's client tasks, in node and instance order, and their relays
/// for the progress bar.
pub struct Round {
    tasks: Vec<Task<ClientRun>>,
    relays: Vec<Weak<Relay>>,
}

/// What a client instance is wired through: its relay on the real network,
/// its link on the simulated one.
enum Wire {
    Relay(Arc<Relay>),
    Link(SocketAddr),
}

impl Rounds<'_> {
    /// Start a relay and a client task for every client instance.
    pub async fn spawn(&self, repeat: u32) -> Result<Round> {
        let plan = self.plan;
        self.bar
            .set_message(format!("round {} of {}", repeat + 1, plan.repeats));
        let mut round = Round {
            tasks: Vec::new(),
            relays: Vec::new(),
        };
        for node in &plan.clients {
            for instance in 0..node.instances {
                let server_name = &plan.servers[node.server].name;
                let link = format!(
                    "{}#{instance}->{server_name}{}",
                    node.name,
                    round_suffix(plan.repeats, repeat)
                );
                let server_addr = self.server_addrs[node.server];
                let mut spec = node.spec.clone();
                let wire = match &self.server_nodes[node.server] {
                    Some(server_node) => {
                        let suffix = round_suffix(plan.repeats, repeat);
                        spec = spec.placed(&format!("{}#{instance}{suffix}", node.name));
                        let client_node =
                            spec.node.as_ref().expect("placed on the simulated network");
                        wire_link(node, &link, client_node, server_node);
                        Wire::Link(server_addr)
                    }
                    None => {
                        let relay =
                            start_relay(node, &link, plan.seed, server_addr, self.capture.clone())
                                .await
                                .with_context(|| format!("starting the relay of link {link}"))?;
                        let relay = Arc::new(relay);
                        round.relays.push(Arc::downgrade(&relay));
                        Wire::Relay(relay)
                    }
                };
                let id = ClientId {
                    link,
                    client: node.name.clone(),
                    server: server_name.clone(),
                    transport: node.transport,
                    repeat,
                    instance,
                    server_addr,
                };
                round.tasks.push(tasks::spawn(self.client(id, spec, wire)));
            }
        }
        Ok(round)
    }

    /// One client instance's task: its run through its relay, then the
    /// relay stopped with its final counts (on the simulated network, its
    /// link's counts).
    fn client(
        &self,
        id: ClientId,
        spec: ClientSpec,
        wire: Wire,
    ) -> impl Future<Output = ClientRun> + use<> {
        let runtime = self.runtime.clone();
        let start = self.start;
        let mut stop = self.stop.clone();
        async move {
            let started_at_us = micros(tasks::since(start));
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let relay_addr = match &wire {
                Wire::Relay(relay) => relay.addr(),
                Wire::Link(server) => *server,
            };
            let record = exchange::run_client_until(&runtime, &spec, relay_addr, stopped).await;
            let ended_at_us = micros(tasks::since(start));
            // The relay started before its client's task did, by as long as
            // a loaded machine takes to run it; a simulated link's events
            // count from the simulation's start, as the run's times do.
            let relay_zero_us = match &wire {
                Wire::Relay(relay) => micros(relay.started().saturating_duration_since(start)),
                Wire::Link(_) => 0.0,
            };
            let relay_stats = match wire {
                // The progress bar only borrows the relay now and then; once
                // it lets go the relay stops with its final counts.
                Wire::Relay(relay) => match Arc::try_unwrap(relay) {
                    Ok(relay) => relay.stop().await,
                    Err(relay) => relay.stats(),
                },
                Wire::Link(_) => {
                    let node = spec
                        .node
                        .as_ref()
                        .expect("a client on the simulated network");
                    node.handle().link_stats(&id.link)
                }
            };
            ClientRun {
                link: id.link,
                client: id.client,
                server: id.server,
                transport: id.transport,
                repeat: id.repeat,
                instance: id.instance,
                relay: relay_addr,
                server_addr: id.server_addr,
                started_at_us,
                ended_at_us,
                relay_zero_us,
                record,
                relay_stats,
            }
        }
    }

    /// Wait for a round's clients (they report only when they finish),
    /// the bar following what their relays carried; Ctrl-C asks them all to
    /// stop. Returns them in node and instance order.
    pub async fn wait(
        &self,
        mut round: Round,
        before: &[ClientRun],
        interrupt: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
        stop: &watch::Sender<bool>,
    ) -> Result<Vec<ClientRun>> {
        let done_before: u64 = before.iter().map(|c| c.record.messages.len() as u64).sum();
        let total = self.bar.length().unwrap_or(0);
        // The bar ticks in real time, so only on the real network: the
        // simulated one runs faster than a bar could show.
        let bar = !self.bar.is_hidden() && !tasks::simulated();
        let mut finished = Vec::new();
        for mut task in std::mem::take(&mut round.tasks) {
            let run = loop {
                tokio::select! {
                    biased;
                    () = interrupt.as_mut(), if !*stop.borrow() => {
                        stop.send_replace(true);
                    }
                    joined = &mut task => break joined,
                    () = tasks::sleep(Duration::from_millis(200)), if bar => {
                        let carried: u64 = round
                            .relays
                            .iter()
                            .filter_map(|r| r.upgrade().map(|r| r.stats().to_server.received))
                            .sum();
                        self.bar.set_position((done_before + carried).min(total));
                    }
                }
            };
            finished.push(run.map_err(|e| anyhow!("a client task failed: {e}"))?);
        }
        finished.sort_by(|a, b| (&a.client, a.instance).cmp(&(&b.client, b.instance)));
        let done: u64 = finished
            .iter()
            .map(|c| c.record.messages.len() as u64)
            .sum();
        self.bar.set_position((done_before + done).min(total));
        Ok(finished)
    }
}

/// Who a client instance is in a run.
struct ClientId {
    link: String,
    client: String,
    server: String,
    transport: Transport,
    repeat: u32,
    instance: u32,
    server_addr: SocketAddr,
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

/// `/rN` for round N when a run has several rounds.
fn round_suffix(repeats: u32, repeat: u32) -> String {
    if repeats > 1 {
        format!("/r{repeat}")
    } else {
        String::new()
    }
}

/// On the simulated network, `link` between a client's node and its
/// server's: each direction impaired as the relay would impair it, on the
/// network's usual latency. A TCP link impairs the stack's segments
/// themselves: a lost one is retransmitted by TCP, not delayed by a relay.
fn wire_link(node: &ClientNode, link: &str, client: &Node, server: &Node) {
    let (to_server, to_client) = match &node.impairments {
        Impairments::Udp {
            to_server,
            to_client,
        } => (to_server.clone(), to_client.clone()),
        Impairments::Tcp {
            to_server,
            to_client,
        } => (segments(to_server), segments(to_client)),
    };
    let handle = client.handle();
    let [up, down] = node.models;
    let directions = [
        (client, server, to_server, up),
        (server, client, to_client, down),
    ];
    for (from, to, impair, models) in directions {
        let link = Link {
            latency: socklab_sim::DEFAULT_LATENCY,
            impair,
            name: link.to_string(),
            models,
        };
        handle.set_link(from, to, link);
    }
}

/// A TCP link's direction as the simulated link applies it to each IP
/// packet: loss, delay, jitter and rate; the relay's own knobs (`rto`,
/// `slice`, resets and stalls) were refused when the file was read.
fn segments(tcp: &TcpImpairments) -> UdpImpairments {
    UdpImpairments {
        loss: tcp.loss,
        delay: tcp.latency,
        jitter: tcp.jitter,
        rate: tcp.bandwidth,
        ..UdpImpairments::default()
    }
}

/// The loopback address of `ip`'s family.
fn loopback_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// `d` in microseconds.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
