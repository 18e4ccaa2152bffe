//! socklab-relay: an in-process relay for UDP and TCP that sits between a
//! client and a server on loopback, impairs what it forwards (loss,
//! duplication, reordering, delay, rate; for TCP latency, bandwidth,
//! slicing, stalls, resets and loss as retransmission delay), draws every
//! choice from a seed, and can record what it delivered as a pcap file.
//!
//! A client is wired to [`Relay::addr`] instead of the server; the relay
//! opens its own socket to the server per UDP client address or TCP
//! connection, so the server sees the relay as its peer, and
//! [`LinkStats::legs`] names both legs.
//!
//! # Where to start reading
//! - [`relay`]: [`LinkSpec`] (one link: listen, server, impairments per
//!   direction) and [`Relay`] (the running relay: address, stats, stop).
//! - [`impair`]: what each impairment means, its units and its default.
//! - [`udp`] and [`tcp`]: the two relays; `start_udp` and `start_tcp`.
//!   A TCP connection's two directions are each a pump (`tcp/pump.rs`):
//!   cut into segments, draw, schedule, write in order.
//! - [`draw`](mod@draw): how every random choice comes from (seed, link, direction,
//!   key, purpose), and the exact bytes hashed.
//! - `schedule`: jitter, the rate-limited link, and the delay line.
//! - [`stats`]: what is counted, per direction and per datagram or segment.
//! - [`capture`]: the pcap file, drawn as if the relay were transparent.
//!
//! The arrows point one way: `udp`/`tcp` → `draw`/`schedule`/`stats`/
//! `capture`; `relay` holds what both share.
//!
//! # TODO
//! - UDP client sessions (an upstream socket each) live until the relay
//!   stops; there is no idle timeout and no limit on their number.

#![warn(missing_docs)]

pub mod capture;
pub mod draw;
pub mod impair;
pub mod relay;
mod schedule;
pub mod stats;
pub mod tcp;
pub mod udp;

pub use capture::{Capture, write_pcap_header, write_pcap_record};
pub use draw::{Direction, Key, draw};
pub use impair::{TcpImpairments, UdpImpairments};
pub use relay::{LinkSpec, Relay};
pub use stats::{DirStats, Event, Fate, Leg, LinkStats};
pub use tcp::start_tcp;
pub use udp::start_udp;
