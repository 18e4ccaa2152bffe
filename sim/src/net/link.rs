//! One datagram's fate on a configured link, decided as socklab-relay's UDP
//! relay decides it (the same draws, keys and purposes, the same counters),
//! in simulated microseconds.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use socklab_relay::{DirStats, Direction, Event, Fate, Key, LinkStats, draw};

use super::Link;
use super::burst::Chain;
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
    /// The Gilbert–Elliott chain of `link.burst`, one per direction.
    chain: Chain,
}

impl LinkState {
    pub(crate) fn new(link: Link, direction: Direction) -> LinkState {
        LinkState {
            link,
            direction,
            free_at: None,
            index: BTreeMap::new(),
            chain: Chain::default(),
        }
    }

    /// Draws the fate of a datagram of `payload` from `src` sent at `now`,
    /// counts it in `stats` and returns the arrival times of its copies
    /// (none when it is dropped), with the drop's fate if any.
    pub(crate) fn impair(
        &mut self,
        seed: u64,
        stats: &mut LinkStats,
        now: u64,
        src: SocketAddr,
        payload: &[u8],
    ) -> (Vec<u64>, Option<Fate>) {
        self.draw_fate(seed, stats, now, (false, src), payload)
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
    ) -> (Vec<u64>, Option<Fate>) {
        self.draw_fate(seed, stats, now, (true, src), packet)
    }

    fn draw_fate(
        &mut self,
        seed: u64,
        stats: &mut LinkStats,
        now: u64,
        src: (bool, SocketAddr),
        payload: &[u8],
    ) -> (Vec<u64>, Option<Fate>) {
        let index = self.index.entry(src).or_insert(0);
        let key = Key::for_datagram(payload, *index);
        *index += 1;
        let i = self.link.impair.clone();
        let name = self.link.name.clone();
        let direction = self.direction;
        let draw = |purpose| draw(seed, &name, direction, key, purpose);
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
        if draw("loss") < i.loss {
            s.lost += 1;
            event.fates.push(Fate::Lost);
            push(s, event);
            return (Vec::new(), Some(Fate::Lost));
        }
        if let Some(model) = self.link.burst {
            let (lost, starts) = self
                .chain
                .step(&model, draw("burst/step"), draw("burst/loss"));
            if lost {
                s.lost += 1;
                s.loss_bursts += u64::from(starts);
                event.fates.push(Fate::Lost);
                push(s, event);
                return (Vec::new(), Some(Fate::Lost));
            }
        }
        let reordered = draw("reorder") < i.reorder;
        let copies: &[&str] = if draw("duplicate") < i.duplicate {
            &["jitter", "duplicate/jitter"]
        } else {
            &["jitter"]
        };
        let mut due = Vec::new();
        let mut dropped = None;
        for (copy, purpose) in copies.iter().enumerate() {
            if s.pending >= i.queue_limit as u64 {
                s.rate_dropped += 1;
                event.fates.push(Fate::RateDropped);
                dropped = Some(Fate::RateDropped);
                continue;
            }
            let mut at = self.transmit(now, payload.len())
                + micros(self.link.latency)
                + micros(i.delay)
                + micros(i.jitter.mul_f64(draw(purpose)));
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
            s.pending += 1;
            due.push(at);
        }
        push(s, event);
        (due, dropped)
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
