//! Putting guests together: start a server and learn where it listens, run a
//! client against it, stop the server and collect both reports.
//!
//! Each guest runs in its own task with its own `Store` (tokio's on the
//! real network, the simulation's on the simulated one: see
//! [`tasks`](crate::runtime::tasks)), so a server serves while its client
//! runs. The wiring decides the grants: the server
//! may listen where it was told, the client may reach that server and
//! nothing else. On the simulated network each guest gets a node of its
//! own (`exchange/simulated.rs`: `ServerSpec::placed`, `ClientSpec::placed`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::grants::{Policy, UserRules, wiring};
use crate::limits::Limits;
use crate::report::{ClientRecord, ExchangeRecord, Expect, ServerRecord};
use crate::roles::Transport;
use crate::roles::bindings::socklab::lab::types::{ClientConfig, ServerConfig, ServerReport};
use crate::runtime::state::Sandbox;
use crate::runtime::tasks::{self, Task};

mod simulated;
use crate::runtime::{Failure, Guest, Outcome, Runtime, ServerWires, call};
use simulated::node_ip;

/// How long a server may take from instantiation to `host.listening`.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server may take to return its report once asked to stop.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The same once Ctrl-C has been pressed: the whole command must have
/// reported within a second or so.
pub const INTERRUPTED_STOP_TIMEOUT: Duration = Duration::from_millis(500);

/// A server guest to run.
#[derive(Clone)]
pub struct ServerSpec {
    /// The guest, loaded.
    pub guest: Arc<Guest>,
    /// Where it binds (port 0 for any free port).
    pub listen: SocketAddr,
    /// Stop after this many sessions (`--max-sessions`).
    pub max_sessions: Option<u64>,
    /// `--param KEY=VALUE` settings for the guest.
    pub params: Vec<(String, String)>,
    /// `--allow`/`--deny` rules on top of the wiring's grants.
    pub rules: UserRules,
    /// Its limits.
    pub limits: Limits,
    /// Its node, on the simulated network (`listen` is then one of the
    /// node's addresses).
    pub node: Option<socklab_sim::Node>,
}

impl ServerSpec {
    /// `guest` on `listen`, with default limits and only the wiring's grants.
    pub fn new(guest: Arc<Guest>, listen: SocketAddr) -> ServerSpec {
        ServerSpec {
            guest,
            listen,
            max_sessions: None,
            params: Vec::new(),
            rules: UserRules::default(),
            limits: Limits::default(),
            node: None,
        }
    }
}

/// A client guest to run.
#[derive(Clone)]
pub struct ClientSpec {
    /// The guest, loaded.
    pub guest: Arc<Guest>,
    /// The messages, in order.
    pub messages: Vec<Vec<u8>>,
    /// How long it waits for each reply, in ms.
    pub timeout_ms: u32,
    /// `--param KEY=VALUE` settings for the guest.
    pub params: Vec<(String, String)>,
    /// What counts as a right reply.
    pub expect: Expect,
    /// `--allow`/`--deny` rules on top of the wiring's grants.
    pub rules: UserRules,
    /// Its limits.
    pub limits: Limits,
    /// Its node, on the simulated network.
    pub node: Option<socklab_sim::Node>,
}

impl ClientSpec {
    /// `guest` sending `messages`, with a 2 s reply timeout, default limits
    /// and only the wiring's grants.
    pub fn new(guest: Arc<Guest>, messages: Vec<Vec<u8>>) -> ClientSpec {
        ClientSpec {
            guest,
            messages,
            timeout_ms: 2000,
            params: Vec::new(),
            expect: Expect::Any,
            rules: UserRules::default(),
            limits: Limits::default(),
            node: None,
        }
    }
}

impl ClientSpec {
    /// What the guest is asked to do against `server`.
    pub fn config(&self, server: SocketAddr) -> ClientConfig {
        ClientConfig {
            server: server.into(),
            messages: self.messages.clone(),
            reply_timeout_ms: self.timeout_ms,
            params: self.params.clone(),
        }
    }
}

/// A server guest that is running and has said where it listens.
pub struct RunningServer {
    /// The address it reported through `host.listening`.
    pub addr: SocketAddr,
    spec: ServerSpec,
    policy: Arc<Policy>,
    stop: watch::Sender<bool>,
    task: Task<Outcome<ServerReport>>,
}

/// Start `spec` under its wiring grants and wait until it listens. A server
/// that fails first yields its record as the error.
pub async fn start_server(
    runtime: &Arc<Runtime>,
    spec: ServerSpec,
) -> Result<RunningServer, Box<ServerRecord>> {
    let grants = match spec.guest.role.transport {
        Transport::Tcp => wiring::tcp_server(spec.listen),
        Transport::Udp => wiring::udp_server(spec.listen),
    };
    let label = format!("server {}", spec.guest.name);
    let policy = Policy::new(label.clone(), grants, &spec.rules, runtime.audit.clone());
    let (stop, stop_rx) = watch::channel(false);
    let (listening_tx, listening_rx) = oneshot::channel();
    let config = ServerConfig {
        listen: spec.listen.into(),
        max_sessions: spec.max_sessions,
        params: spec.params.clone(),
    };
    let mut task = {
        let runtime = runtime.clone();
        let guest = spec.guest.clone();
        let sandbox = Sandbox {
            label,
            transport: Some(guest.role.transport),
            policy: policy.clone(),
            limits: spec.limits.clone(),
            verbose: runtime.verbose,
            node: spec.node.clone(),
        };
        let wires = ServerWires {
            stop: stop_rx,
            listening: listening_tx,
        };
        tasks::spawn(async move {
            let policy = sandbox.policy.clone();
            let outcome = call::serve(&runtime, &guest, config, sandbox, wires).await;
            policy.flush_allowed();
            outcome
        })
    };
    let failed = |outcome: Outcome<ServerReport>| {
        Box::new(ServerRecord::new(&spec.guest, &policy, None, outcome))
    };
    tokio::select! {
        biased;
        addr = listening_rx => match addr {
            Ok(addr) => Ok(RunningServer { addr, spec: spec.clone(), policy: policy.clone(), stop, task }),
            // The guest returned without ever listening: its outcome says why.
            Err(_) => Err(failed(join(task.await))),
        },
        outcome = &mut task => Err(failed(join(outcome))),
        _ = tasks::sleep(LISTEN_TIMEOUT) => {
            task.abort();
            Err(failed(Outcome::failed(Failure::Returned(format!(
                "did not report a listening address within {} s", LISTEN_TIMEOUT.as_secs()
            )))))
        }
    }
}

impl RunningServer {
    /// Where a client should connect: the listening address, with a wildcard
    /// address replaced by the loopback of its family.
    pub fn connect_addr(&self) -> SocketAddr {
        let ip = match (self.addr.ip(), &self.spec.node) {
            // On the simulated network, the server's node's own address.
            (ip, Some(node)) if ip.is_unspecified() => node_ip(node, ip.is_ipv4()),
            (IpAddr::V4(ip), None) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            (IpAddr::V6(ip), None) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            (ip, _) => ip,
        };
        SocketAddr::new(ip, self.addr.port())
    }

    /// Its node, on the simulated network.
    pub fn node(&self) -> Option<&socklab_sim::Node> {
        self.spec.node.as_ref()
    }

    /// Wait for the server to return by itself (it reached `max_sessions`),
    /// or until `stop` resolves, whichever comes first; then collect its
    /// record.
    pub async fn finish(self, stop: impl Future<Output = ()>) -> ServerRecord {
        self.finish_within(stop, STOP_TIMEOUT).await
    }

    /// [`RunningServer::finish`], giving the server `grace` to return its
    /// report once asked.
    pub async fn finish_within(
        mut self,
        stop: impl Future<Output = ()>,
        grace: Duration,
    ) -> ServerRecord {
        let outcome = tokio::select! {
            biased;
            outcome = &mut self.task => join(outcome),
            () = stop => {
                // The stop pollable's resource holds a second receiver of
                // `self.stop`, taken before the guest announces its address;
                // a guest without one (a std::net server blocked in accept)
                // cannot stop itself and is cancelled. Read before signalling:
                // a guest that obeys drops its receivers as it returns.
                let polls_stop = self.stop.receiver_count() >= 2;
                let _ = self.stop.send(true);
                if !polls_stop {
                    self.task.abort();
                    // A task that had already finished still yields its outcome.
                    let outcome = (&mut self.task).await.unwrap_or_else(|_| Outcome::failed(Failure::Cancelled));
                    return ServerRecord::new(&self.spec.guest, &self.policy, Some(self.addr), outcome);
                }
                match tasks::timeout(grace, &mut self.task).await {
                    Some(outcome) => join(outcome),
                    None => {
                        self.task.abort();
                        Outcome::failed(Failure::Returned(format!(
                            "did not stop within {} of being asked", crate::limits::show_duration(grace)
                        )))
                    }
                }
            }
        };
        ServerRecord::new(&self.spec.guest, &self.policy, Some(self.addr), outcome)
    }

    /// Ask the server to stop now and collect its record.
    pub async fn stop(self) -> ServerRecord {
        self.finish(std::future::ready(())).await
    }

    /// Stop the server at once after Ctrl-C, with a short grace.
    pub async fn stop_interrupted(self) -> ServerRecord {
        self.finish_within(std::future::ready(()), INTERRUPTED_STOP_TIMEOUT)
            .await
    }
}

/// Run a client guest against `server` under its wiring grants.
pub async fn run_client(
    runtime: &Arc<Runtime>,
    spec: &ClientSpec,
    server: SocketAddr,
) -> ClientRecord {
    run_client_until(runtime, spec, server, std::future::pending()).await
}

/// [`run_client`], cut short when `interrupt` resolves: the client then
/// leaves no messages (it reports only at its end) and its record says it
/// was interrupted.
pub async fn run_client_until(
    runtime: &Arc<Runtime>,
    spec: &ClientSpec,
    server: SocketAddr,
    interrupt: impl Future<Output = ()>,
) -> ClientRecord {
    let grants = match spec.guest.role.transport {
        Transport::Tcp => wiring::tcp_client(server),
        Transport::Udp => wiring::udp_client(server),
    };
    let label = format!("client {}", spec.guest.name);
    let policy = Policy::new(label.clone(), grants, &spec.rules, runtime.audit.clone());
    let config = spec.config(server);
    let sandbox = Sandbox {
        label,
        transport: Some(spec.guest.role.transport),
        policy: policy.clone(),
        limits: spec.limits.clone(),
        verbose: runtime.verbose,
        node: spec.node.clone(),
    };
    let call = call::run_client(runtime, &spec.guest, &config, sandbox);
    let outcome = tokio::select! {
        biased;
        () = interrupt => Outcome::failed(Failure::Interrupted),
        outcome = call => outcome,
    };
    policy.flush_allowed();
    ClientRecord::new(&spec.guest, &policy, server, &config, spec.expect, outcome)
}

/// A whole exchange: start the server, run the client against it, stop the
/// server.
pub async fn exchange(
    runtime: &Arc<Runtime>,
    server: ServerSpec,
    client: ClientSpec,
) -> ExchangeRecord {
    exchange_until(runtime, server, client, std::future::pending()).await
}

/// [`exchange`], cut short when `interrupt` resolves: the client is
/// stopped, the server asked to stop at once, and both records say what
/// happened.
pub async fn exchange_until(
    runtime: &Arc<Runtime>,
    server: ServerSpec,
    client: ClientSpec,
    interrupt: impl Future<Output = ()>,
) -> ExchangeRecord {
    let transport = server.guest.role.transport;
    let running = match start_server(runtime, server).await {
        Ok(running) => running,
        Err(record) => {
            return ExchangeRecord {
                transport,
                server: Some(*record),
                client: None,
            };
        }
    };
    let client = run_client_until(runtime, &client, running.connect_addr(), interrupt).await;
    let server = if client.guest.interrupted {
        running.stop_interrupted().await
    } else {
        running.stop().await
    };
    ExchangeRecord {
        transport,
        server: Some(server),
        client: Some(client),
    }
}

/// A task's outcome, or a trap-like failure if the task itself panicked or
/// was cancelled.
fn join<T>(joined: Result<Outcome<T>, String>) -> Outcome<T> {
    joined.unwrap_or_else(|e| {
        Outcome::failed(Failure::Trapped(format!(
            "the guest's task ended abnormally: {e}"
        )))
    })
}
