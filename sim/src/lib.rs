//! socklab-sim: a simulated network for socklab's guests. The same `.wasm`
//! components that run on the real network run here on socklab's own
//! `wasi:sockets` (UDP, and TCP on smoltcp), `wasi:clocks` and `wasi:random`, over an
//! in-memory network in simulated time, so that one seed replays every
//! event exactly.
//!
//! # Where to start reading
//! - [`exec`](mod@exec): [`Sim`], the deterministic executor (`block_on`,
//!   [`spawn`], [`Stalled`]); `core` holds what it shares (time, timers,
//!   run queue, network, log) and the lock order.
//! - [`time`]: [`time::now_micros`], [`time::sleep`], [`time::timeout`] and
//!   [`time::Sleep`], which clock pollables are made of.
//! - [`net`]: [`Node`], [`Link`], the link statistics and the event log as
//!   users see them; `net::world` (addresses, routes, ports), `net::udp`
//!   (the kernel's part of a UDP socket), `net::tcp` (socklab's layer over
//!   smoltcp: port tables, backlog, accept; `net::tcp::stack`, each node's
//!   interface and `Core::emit`, where every IP packet leaves a node),
//!   `net::link` (a datagram's or segment's fate, drawn as socklab-relay
//!   draws it); `net::models` ([`LinkModels`]: the simulated network's own
//!   link models, a delay [`Distribution`] on a link that keeps its order,
//!   corruption, a queue in bytes, an MTU; `net::burst`, loss in bursts);
//!   `net::tcp::table` (each node's TCP sockets, kept together);
//!   `net::record` (the event log as it is kept: numbers, made into
//!   [`LogEvent`]s when read); [`UdpSocket`], [`TcpListener`] and
//!   [`TcpStream`] for Rust code inside the simulation.
//! - [`sockets`]: [`SimView`] (what a host implements) and
//!   [`sockets::add_to_linker`]: the seven `wasi:sockets` interfaces,
//!   checked as wasmtime-wasi 48 checks them (`sockets::tcp`: the TCP
//!   state machine, options and streams). [`clocks`]: the two clocks.
//! - [`log`]: the event log's records and JSON Lines, and where two runs'
//!   logs part ([`log::first_divergence`]).
//! - [`capture`]: [`Handle::capture_to`], every IP packet a node sends as a
//!   pcap record in simulated time; `Capture::record` is the one entry
//!   point a transport hands its packets to (UDP in `net::udp`, TCP in
//!   `Core::emit`).
//! - [`random`]: each node's deterministic `wasi:random`.
//! - [`engine`]: [`engine_config`] and the fuel yield interval.
//! - [`cpu`]: [`Cpu`], a node's simulated CPU: the fuel its guest burns
//!   and the calls it makes into the host, charged to simulated time
//!   (the store's call hook and a wrapper around the guest's call).
//!
//! The arrows point one way: `sockets`/`clocks` → `net`/`time` → `core` →
//! `exec`'s shared state; `bindings` (the WIT, generated) is used by
//! `sockets`, `clocks` and `net::udp` for its types; `core` holds the
//! `capture`, which `net::udp` records into; `cpu` uses `time` and
//! `engine`; `log`, `random` and `engine` depend on nothing here. Nothing here knows the host.
//!
//! # TODO
//! - TCP is smoltcp's: 1 s RTO floor and 60 s ceiling (Linux: 200 ms,
//!   120 s), no SACK, fixed buffers, keep-alive without a probe count, 10 s
//!   TIME-WAIT (see docs/simulated.md for the whole list).
//! - Receive queues count payload bytes, not the kernel's per-datagram
//!   overhead; buffer sizes are kept and clamped, not doubled.
//! - Disconnecting a wildcard-bound socket keeps its port (Linux may drop an
//!   ephemeral one).
//! - One waiting reader per socket (one guest owns a socket).
//! - The capture has no ICMP: a datagram to no listener shows as sent, and
//!   the "port unreachable" that refuses it is not drawn.

#![warn(missing_docs)]

mod bindings;
pub mod capture;
pub mod clocks;
mod core;
pub mod cpu;
pub mod engine;
pub mod exec;
pub mod log;
pub mod net;
pub mod random;
pub mod sockets;
pub mod time;

pub use capture::Captured;
pub use cpu::{Cpu, Usage};
pub use engine::{FUEL_YIELD_INTERVAL, engine_config, yield_on_fuel};
pub use exec::{Cancelled, Handle, JoinHandle, Sim, Stalled, spawn};
pub use log::{DropCause, EventKind, LogEvent};
pub use net::{
    BurstLoss, DEFAULT_LATENCY, Distribution, Link, LinkModels, Node, TcpListener, TcpStream,
    UdpSocket,
};
pub use sockets::{ErrorCode, SimView, Transport};
