//! What one guest's `Store` holds: its own `WasiCtx` (with its grants), its
//! resource table, and the host side of `socklab:lab/host`.
//!
//! Every guest gets a fresh [`GuestState`], so one guest's grants, sockets
//! and log never leak into another's. `state/lab_host.rs` holds the
//! `socklab:lab/host` side (listening, log, the stop signal); `state/sim.rs`
//! the store as the simulated network sees it (`SimView`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{oneshot, watch};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, TcpSocket, UdpSocket};
use wasmtime_wasi::sockets::{TcpSocket as TcpSocket03, UdpSocket as UdpSocket03};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::call::ServerWires;
use super::udp::UdpSocket as OwnUdp;
use crate::grants::{Op, Policy};
use crate::limits::{LimitKind, Limits, MemoryLimiter, Meter, Usage};
use crate::roles::Transport;

mod lab_host;
mod sim;

use lab_host::StopSignal;

/// Bytes of stdout and of stderr kept per guest; writes past this fail in
/// the guest, never grow the host.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// Bytes of log lines shown per guest before the rest are dropped.
pub const LOG_CAP: usize = 1024 * 1024;

/// Who a guest is and what it may do: everything its store is made from
/// besides its WASI configuration.
pub struct Sandbox {
    /// Who it is in log lines and the audit: `server tcp-echo-server`.
    pub label: String,
    /// The one transport its role may use (`None`: a command, which may use
    /// either within its rules).
    pub transport: Option<Transport>,
    /// Its network rules, consulted for every socket use and name lookup.
    pub policy: Arc<Policy>,
    /// Its limits.
    pub limits: Limits,
    /// Show its `debug` log lines.
    pub verbose: bool,
    /// Its node on the simulated network (`None` on the real network).
    pub node: Option<socklab_sim::Node>,
}

/// Where a guest's stdout and stderr go.
pub enum Stdio {
    /// Kept (at most [`OUTPUT_CAP`] each) for its report.
    Captured,
    /// socklab's own (a command run by `socklab run`).
    Inherited,
}

/// The data of one guest's `Store`.
pub struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The guest's captured stdout and stderr (panic messages land there),
    /// unless they are socklab's own.
    output: Option<(MemoryOutputPipe, MemoryOutputPipe)>,
    /// Who this guest is in log lines: `server tcp-echo-server`.
    label: String,
    verbose: bool,
    /// Log bytes shown so far, against [`LOG_CAP`].
    logged: usize,
    /// Fired once, with the address the server reports it listens on.
    listening: Option<oneshot::Sender<SocketAddr>>,
    /// Becomes `true` when the host asks the guest to stop (`None`: nobody
    /// ever will, as for a client or a command).
    stop: Option<watch::Receiver<bool>>,
    /// The one resource behind every stop pollable handed out.
    stop_resource: Option<Resource<StopSignal>>,
    /// A WASI 0.3 guest's hold on the stop signal from its first ask on.
    stop_asked: Option<watch::Receiver<bool>>,
    /// The guest's network rules, also consulted for name lookups.
    policy: Arc<Policy>,
    /// The guest's limits and what it has used of them.
    pub meter: Meter,
    /// The linear-memory limit, as wasmtime consults it.
    pub memory: MemoryLimiter,
    /// Sockets created or accepted, by resource: the live ones count
    /// against `max-sockets`.
    sockets: HashSet<(SocketKind, u32)>,
    /// Accepted connections, by resource: the live ones count against
    /// `max-connections`.
    connections: HashSet<(SocketKind, u32)>,
    /// The one transport this guest's role may use (`None`: a command).
    pub transport: Option<Transport>,
    /// Its node, on the simulated network.
    node: Option<socklab_sim::Node>,
    /// Sockets it holds on the simulated network, against `max-sockets`.
    sim_sockets: usize,
    /// Connections accepted on the simulated network and still open (its
    /// sockets are not wasmtime-wasi's table entries, so they are counted
    /// here, against `max-connections`).
    sim_connections: usize,
    /// Its node's CPU, on the simulated network: what its wasm costs in
    /// simulated time (`call::store` sets it up).
    pub cpu: Option<socklab_sim::Cpu>,
}

/// Which table type a tracked socket has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketKind {
    /// A `tcp-socket`.
    Tcp,
    /// A `udp-socket`.
    Udp,
    /// A WASI 0.3 `tcp-socket`.
    Tcp03,
    /// A WASI 0.3 `udp-socket`.
    Udp03,
}

impl GuestState {
    /// A guest's store data: `sandbox`'s grants and limits on a fresh
    /// `WasiCtx` that `configure` may add to (args, env, directories), wired
    /// to a server's stop signal and listening address when `wires` are
    /// given. Name lookups reach socklab's own `resolve-addresses` only when
    /// some rule could allow a name; the other transport is refused at
    /// socket creation ([`GuestState::may_create`]).
    pub fn new(
        sandbox: Sandbox,
        wires: Option<ServerWires>,
        stdio: Stdio,
        configure: impl FnOnce(&mut WasiCtxBuilder),
    ) -> GuestState {
        let Sandbox {
            label,
            transport,
            policy,
            limits,
            verbose,
            node,
        } = sandbox;
        let mut builder = WasiCtxBuilder::new();
        if let Some(node) = &node {
            // Its wasi:random from the run's seed and its node's name.
            socklab_sim::random::for_node(node.handle().seed(), node.name()).apply(&mut builder);
        }
        let output = match stdio {
            Stdio::Captured => {
                let pipes = (
                    MemoryOutputPipe::new(OUTPUT_CAP),
                    MemoryOutputPipe::new(OUTPUT_CAP),
                );
                builder.stdout(pipes.0.clone()).stderr(pipes.1.clone());
                Some(pipes)
            }
            Stdio::Inherited => {
                builder.inherit_stdio();
                None
            }
        };
        configure(&mut builder);
        builder
            .allow_tcp(transport != Some(Transport::Udp))
            .allow_udp(transport != Some(Transport::Tcp))
            .allow_ip_name_lookup(policy.allows_any_name())
            .socket_addr_check({
                let policy = policy.clone();
                move |addr, use_| {
                    let allowed = policy.check(use_.into(), addr);
                    Box::pin(std::future::ready(allowed))
                }
            });
        let (stop, listening) = match wires {
            Some(w) => (Some(w.stop), Some(w.listening)),
            None => (None, None),
        };
        GuestState {
            wasi: builder.build(),
            table: ResourceTable::new(),
            output,
            label,
            verbose,
            logged: 0,
            stop,
            listening,
            stop_resource: None,
            stop_asked: None,
            policy,
            memory: MemoryLimiter {
                limit: usize::try_from(limits.memory).unwrap_or(usize::MAX),
                tripped: false,
                peak: 0,
            },
            cpu: None,
            meter: Meter::new(limits),
            sockets: HashSet::new(),
            connections: HashSet::new(),
            transport,
            node,
            sim_sockets: 0,
            sim_connections: 0,
        }
    }

    /// What the guest wrote on stdout and stderr, as text (lossy); empty
    /// when they were socklab's own.
    pub fn output(&self) -> (String, String) {
        match &self.output {
            Some((out, err)) => (
                String::from_utf8_lossy(&out.contents()).into_owned(),
                String::from_utf8_lossy(&err.contents()).into_owned(),
            ),
            None => (String::new(), String::new()),
        }
    }

    /// Whether the guest runs on the simulated network (it has a node).
    pub fn simulated(&self) -> bool {
        self.simulation().is_some()
    }

    /// Its node's simulation, on the simulated network.
    pub fn simulation(&self) -> Option<&socklab_sim::Handle> {
        self.node.as_ref().map(|n| n.handle())
    }

    /// What the guest used, on the simulated network: everything charged
    /// up to the store's fuel reading `fuel_left`, and its peak memory.
    pub fn usage(&self, fuel_left: u64) -> Option<Usage> {
        let cpu = self.cpu.as_ref()?;
        // The guest has ended: nothing is left to wait for.
        let _ = cpu.settle(fuel_left);
        let used = cpu.usage();
        Some(Usage {
            fuel: used.fuel,
            host_calls: used.host_calls,
            cpu_micros: used.cpu_nanos / 1000,
            peak_memory: self.memory.peak as u64,
        })
    }

    /// Who this guest is in log lines: `server tcp-echo-server`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the user asked for guests' debug lines (`-v`).
    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// The guest's policy, for the overrides' checks.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The policy and the table at once (socklab's UDP checks each datagram).
    pub fn policy_and_table(&mut self) -> (&Policy, &mut ResourceTable) {
        (&self.policy, &mut self.table)
    }

    /// Whether the guest may create a socket of `transport`: a role guest
    /// only its role's transport, a command only one that some rule allows
    /// (a refusal recorded like any other), and only within `max-sockets`
    /// (the guest then gets `new-socket-limit`).
    pub fn may_create(&mut self, transport: Transport) -> Result<(), ErrorCode> {
        self.refuse_other_transport(transport)?;
        if !self.socket_allowed(None) {
            return Err(ErrorCode::NewSocketLimit);
        }
        Ok(())
    }

    /// `access-denied`, recorded, for a transport the guest may not use.
    fn refuse_other_transport(&mut self, transport: Transport) -> Result<(), ErrorCode> {
        let refused = match self.transport {
            Some(own) if own != transport => {
                Some(format!("a {own} guest is granted no {transport} socket"))
            }
            // A command may use either transport, but only one some rule
            // allows: `wasmtime run -S tcp=n` answers `access-denied` here
            // too, and programs written for it expect that.
            None if !self.policy.allows_transport(transport) => {
                Some(format!("no rule allows any {transport} use"))
            }
            _ => None,
        };
        if let Some(rule) = refused {
            let op = match transport {
                Transport::Tcp => Op::TcpBind,
                Transport::Udp => Op::UdpBind,
            };
            self.policy
                .refuse(op, "(socket creation)".to_string(), rule);
            return Err(ErrorCode::AccessDenied);
        }
        Ok(())
    }

    /// Whether the guest may hold one more socket; records the hit if not.
    /// `new` is a socket already in the table that is not to be counted (an
    /// accepted one, which may reuse the slot of one the guest dropped).
    pub fn socket_allowed(&mut self, new: Option<(SocketKind, u32)>) -> bool {
        let table = &self.table;
        self.sockets
            .retain(|&(kind, rep)| Some((kind, rep)) != new && live(table, kind, rep));
        let ok = self.sockets.len() < self.meter.limits.max_sockets as usize;
        if !ok {
            self.meter.hit(LimitKind::Sockets, false);
        }
        ok
    }

    /// Whether a server may keep the connection it just accepted (`rep`, a
    /// socket of `kind`): within `max-sockets`, then `max-connections`.
    /// Counts it if so; records the hit and names the limit if not (the
    /// caller closes it before the guest sees it).
    pub fn admit_accepted(&mut self, kind: SocketKind, rep: u32) -> Result<(), LimitKind> {
        if !self.socket_allowed(Some((kind, rep))) {
            return Err(LimitKind::Sockets);
        }
        let table = &self.table;
        // The new connection's slot may be one a closed connection had: it
        // is not one of the open ones.
        self.connections
            .retain(|&(k, r)| (k, r) != (kind, rep) && live(table, k, r));
        if self.connections.len() >= self.meter.limits.max_connections as usize {
            self.meter.hit(LimitKind::Connections, false);
            return Err(LimitKind::Connections);
        }
        self.track_socket(kind, rep, true);
        Ok(())
    }

    /// Count a socket the guest now holds.
    pub fn track_socket(&mut self, kind: SocketKind, rep: u32, accepted: bool) {
        self.sockets.insert((kind, rep));
        if accepted {
            self.connections.insert((kind, rep));
        } else {
            // A socket made in the slot a closed connection had: that
            // connection is gone, and this socket is none (else a listener
            // made there would count as an open connection for its life).
            self.connections.retain(|&(_, r)| r != rep);
        }
    }

    /// Close a connection the guest will never see (streams first: they are
    /// the socket's children).
    pub fn close_accepted(
        &mut self,
        socket: Resource<TcpSocket>,
        input: Resource<DynInputStream>,
        output: Resource<DynOutputStream>,
    ) -> wasmtime::Result<()> {
        self.table.delete(input)?;
        self.table.delete(output)?;
        self.table.delete(socket)?;
        Ok(())
    }

    /// Close a WASI 0.3 connection the guest will never see (its streams
    /// are made only when the guest asks for them).
    pub fn close_accepted03(&mut self, socket: Resource<TcpSocket03>) -> wasmtime::Result<()> {
        self.table.delete(socket)?;
        Ok(())
    }
}

/// Whether the resource `rep` is still a socket of `kind` in the table.
fn live(table: &ResourceTable, kind: SocketKind, rep: u32) -> bool {
    fn has<T: 'static>(table: &ResourceTable, rep: u32) -> bool {
        table.get(&Resource::<T>::new_borrow(rep)).is_ok()
    }
    match kind {
        SocketKind::Tcp => has::<TcpSocket>(table, rep),
        // socklab's own (the default), or wasmtime-wasi's (`--udp-sockets`).
        SocketKind::Udp => has::<OwnUdp>(table, rep) || has::<UdpSocket>(table, rep),
        SocketKind::Tcp03 => has::<TcpSocket03>(table, rep),
        SocketKind::Udp03 => has::<UdpSocket03>(table, rep),
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
