//! One datagram's fate on a configured link, decided as socklab-relay's UDP
//! relay decides it (the same draws, keys and purposes, the same counters),
//! in simulated microseconds.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use socklab_relay::{DirStats, Direction, Event, Fate, Key, LinkStats, draw};

use super::Link;
use super::burst::Chain;
use super::models::fragments;
use crate::time::micros;

/// A configured direction of a link and its running state.
pub(crate) struct LinkState {
    pub(crate) link: Link,
    pub(crate) direction: Direction,
    /// When the rate-limited link finishes its last datagram, in µs.
    free_at: Option<u64>,
    /// Datagrams sent so far per source address (the relay's "client"),
    /// for [`Key::Index`]; TCP's segments are counted apart (`true`), so
    /// that they never shift a UDP datagram's draws.
    index: BTreeMap<(bool, SocketAddr), u64>,
    /// The Gilbert–Elliott chain of `link.models.burst`, one per direction.
    chain: Chain,
    /// When the last packet kept in order is due, in µs: with a delay
    /// distribution none arrives before it.
    last_due: u64,
}

/// One copy a link carries: when it arrives, and where `corrupt` flips a
/// bit of it, if it does (a fraction of its transport part's bits, for
/// `checksum::damage`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival {
    pub(crate) at: u64,
    pub(crate) flip: Option<f64>,
}

/// What a link does with one datagram or packet: its copies (none when it
/// is dropped), and the drop's fate if one was dropped.
pub(crate) type Crossing = (Vec<Arrival>, Option<Fate>);

impl LinkState {
    pub(crate) fn new(link: Link, direction: Direction) -> LinkState {
        LinkState {
            link,
            direction,
            free_at: None,
            last_due: 0,
            index: BTreeMap::new(),
            chain: Chain::default(),
        }
    }

    /// Draws the fate of a datagram of `payload` from `src` sent at `now`,
    /// counts it in `stats` and returns its copies.
    pub(crate) fn impair(
        &mut self,
        seed: u64,
        stats: &mut LinkStats,
        now: u64,
        src: SocketAddr,
        payload: &[u8],
    ) -> Crossing {
        let size = Size::Udp(payload.len(), src.is_ipv6());
        self.draw_fate(seed, stats, now, (false, src), payload, size)
    }

    /// [`LinkState::impair`] for a TCP segment (`packet`: the whole IP
    /// packet): the same draws, with TCP's own per-source index.
    pub(crate) fn impair_tcp(
        &mut self,
        seed: u64,
        stats: &mut LinkStats,
        now: u64,
        src: SocketAddr,
        packet: &[u8],
    ) -> Crossing {
        self.draw_fate(seed, stats, now, (true, src), packet, Size::Ip)
    }

    fn draw_fate(
        &mut self,
        seed: u64,
        stats: &mut LinkStats,
        now: u64,
        src: (bool, SocketAddr),
        payload: &[u8],
        size: Size,
    ) -> Crossing {
        let index = self.index.entry(src).or_insert(0);
        let key = Key::for_datagram(payload, *index);
        *index += 1;
        let name = self.link.name.clone();
        let direction = self.direction;
        let draw = |purpose: &str| draw(seed, &name, direction, key, purpose);
        let s = dir(stats, direction);
        let len = payload.len() as u64;
        s.received += 1;
        s.received_bytes += len;
        let mut event = Event {
            at_us: now,
            key,
            bytes: len,
            fates: Vec::new(),
            delay_us: 0,
        };
        if let Some(fate) = self.drops(&draw, s, &mut event, size) {
            push(s, event);
            return (Vec::new(), Some(fate));
        }
        let crossing = self.schedule(&draw, s, &mut event, now, payload.len());
        push(s, event);
        crossing
    }

    /// Whether the datagram is lost before it is queued: by `loss`, by one
    /// of its fragments, or by a burst. Counts and notes what it decides.
    fn drops(
        &mut self,
        draw: &impl Fn(&str) -> f64,
        s: &mut DirStats,
        event: &mut Event,
        size: Size,
    ) -> Option<Fate> {
        let loss = self.link.impair.loss;
        let mut lost = draw("loss") < loss;
        let fragments = self.link.models.mtu.map_or(1, |mtu| size.fragments(mtu));
        if fragments > 1 {
            s.fragmented += 1;
            event.fates.push(Fate::Fragmented);
            // The first fragment's draw is `loss` itself; each other
            // fragment has its own.
            lost = lost || (1..fragments).any(|i| draw(&format!("loss/fragment/{i}")) < loss);
        }
        if !lost && let Some(model) = self.link.models.burst {
            let (burst, starts) = self
                .chain
                .step(&model, draw("burst/step"), draw("burst/loss"));
            lost = burst;
            s.loss_bursts += u64::from(starts);
        }
        if !lost {
            return None;
        }
        s.lost += 1;
        event.fates.push(Fate::Lost);
        Some(Fate::Lost)
    }

    /// Queues the datagram's copies: the queue's tail drops, the rate, the
    /// delay and its jitter or distribution, reordering and corruption.
    fn schedule(
        &mut self,
        draw: &impl Fn(&str) -> f64,
        s: &mut DirStats,
        event: &mut Event,
        now: u64,
        len: usize,
    ) -> Crossing {
        let i = self.link.impair.clone();
        let models = self.link.models;
        let reordered = draw("reorder") < i.reorder;
        let copies: &[&str] = if draw("duplicate") < i.duplicate {
            &["", "duplicate/"]
        } else {
            &[""]
        };
        let mut due = Vec::new();
        let mut dropped = None;
        for (copy, prefix) in copies.iter().enumerate() {
            if s.pending >= i.queue_limit as u64 || self.backlog_full(now, len) {
                s.rate_dropped += 1;
                event.fates.push(Fate::RateDropped);
                dropped = Some(Fate::RateDropped);
                continue;
            }
            let sent = self.transmit(now, len) + micros(self.link.latency);
            let mut at = match models.distribution {
                None => {
                    sent + micros(i.delay)
                        + micros(i.jitter.mul_f64(draw(&format!("{prefix}jitter"))))
                }
                Some(d) => {
                    let (u, v) = (
                        draw(&format!("{prefix}delay/1")),
                        draw(&format!("{prefix}delay/2")),
                    );
                    sent + d.sample(i.delay, i.jitter, u, v)
                }
            };
            if models.distribution.is_some() && !(copy == 0 && reordered) {
                // The link keeps its order: no packet overtakes the one
                // sent before it, whatever their delays drew.
                at = at.max(self.last_due);
                self.last_due = at;
            }
            if copy == 0 {
                if reordered {
                    at += micros(i.reorder_delay);
                    s.reordered += 1;
                    event.fates.push(Fate::Reordered);
                }
                event.fates.push(Fate::Delivered);
                event.delay_us = at - now;
            } else {
                s.duplicated += 1;
                event.fates.push(Fate::Duplicated);
            }
            let corrupt =
                models.corrupt > 0.0 && draw(&format!("{prefix}corrupt")) < models.corrupt;
            let flip = corrupt.then(|| {
                event.fates.push(Fate::Corrupted);
                draw(&format!("{prefix}corrupt/bit"))
            });
            s.pending += 1;
            due.push(Arrival { at, flip });
        }
        (due, dropped)
    }

    /// Whether `len` more bytes would take the bytes still waiting for the
    /// link's rate past `queue_bytes`.
    fn backlog_full(&self, now: u64, len: usize) -> bool {
        let (Some(limit), Some(rate), Some(free)) = (
            self.link.models.queue_bytes,
            self.link.impair.rate,
            self.free_at,
        ) else {
            return false;
        };
        let waiting = free.saturating_sub(now) as f64 * rate as f64 / 1e6;
        waiting.round() as u64 + len as u64 > limit
    }

    /// Puts `len` bytes on the link at `now`: when they have crossed it.
    fn transmit(&mut self, now: u64, len: usize) -> u64 {
        let Some(rate) = self.link.impair.rate else {
            return now;
        };
        let start = self.free_at.map_or(now, |free| free.max(now));
        let done = start + (len as f64 * 1e6 / rate as f64) as u64;
        self.free_at = Some(done);
        done
    }
}

/// What a packet's size is, for its fragments.
#[derive(Clone, Copy)]
enum Size {
    /// A UDP payload of so many bytes, over IPv6 or not.
    Udp(usize, bool),
    /// A whole IP packet (TCP's): a node's TCP fits its link's MTU, so it
    /// crosses whole.
    Ip,
}

impl Size {
    fn fragments(self, mtu: usize) -> usize {
        match self {
            Size::Udp(payload, ipv6) => fragments(payload, ipv6, mtu),
            Size::Ip => 1,
        }
    }
}

/// One direction's counters.
pub(crate) fn dir(stats: &mut LinkStats, direction: Direction) -> &mut DirStats {
    match direction {
        Direction::ToServer => &mut stats.to_server,
        Direction::ToClient => &mut stats.to_client,
    }
}

/// Keeps `event` as the relay does, up to `socklab_relay::stats::MAX_EVENTS`.
fn push(s: &mut DirStats, event: Event) {
    if s.events.len() < socklab_relay::stats::MAX_EVENTS {
        s.events.push(event);
    } else {
        s.events_dropped += 1;
    }
}
