//! One direction's impairment table of an experiment file (`both`,
//! `to_server`, `to_client`): the relays' keys, the simulated network's own
//! models, and which keys belong to which transport and network.

use serde::Deserialize;

use super::{Bounded, Dur, Percent, Rate, Size};

/// How one direction of a link misbehaves. Which fields apply depends on the
/// transport; the others are an error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpairDoc {
    /// Both: UDP datagrams dropped; TCP segments "lost" (delivered after a
    /// retransmission timeout).
    pub loss: Option<Percent>,
    /// UDP: datagrams delivered twice.
    pub duplicate: Option<Percent>,
    /// UDP: datagrams held back by `reorder_delay` so later ones overtake.
    pub reorder: Option<Percent>,
    /// UDP: how long `reorder` holds a datagram back.
    pub reorder_delay: Option<Dur>,
    /// Both: one-way delay (`latency` is the same field).
    #[serde(alias = "latency")]
    pub delay: Option<Dur>,
    /// Both: a random extra delay between zero and this.
    pub jitter: Option<Dur>,
    /// Both: bytes per second (`bandwidth` is the same field), `"1MiB/s"`.
    #[serde(alias = "bandwidth")]
    pub rate: Option<Rate>,
    /// UDP: datagrams that may wait behind the rate limit before the next is
    /// dropped.
    pub queue_limit: Option<Bounded<1, 1_000_000>>,
    /// TCP: the largest segment the relay forwards.
    pub slice: Option<Size>,
    /// TCP: reset the connection after this many bytes in this direction.
    pub reset_after: Option<Size>,
    /// TCP: stop forwarding for `stall_for` after this many bytes.
    pub stall_after: Option<Size>,
    /// TCP: how long the stall at `stall_after` lasts.
    pub stall_for: Option<Dur>,
    /// TCP: the first retransmission timeout (default 200 ms), doubling.
    pub rto: Option<Dur>,
    /// Both, simulated network only: loss in bursts (Gilbert–Elliott),
    /// because real losses come in runs that independent `loss` never makes.
    pub loss_burst: Option<BurstDoc>,
    /// Both, simulated network only: the delay's shape, `fixed`, `uniform`,
    /// `normal` or `pareto`, of mean `delay` and spread `jitter`, on a link
    /// that keeps its order (only `reorder` reorders).
    pub distribution: Option<String>,
    /// Both, simulated network only: packets that cross with a bit flipped
    /// (the receiver's checksum drops them).
    pub corrupt: Option<Percent>,
    /// Both, simulated network only: the most bytes waiting for `rate`.
    pub queue_bytes: Option<Size>,
    /// Both, simulated network only: the largest IP packet, headers
    /// included; a larger UDP datagram crosses as fragments.
    pub mtu: Option<Bounded<1280, 65_535>>,
}

/// `loss_burst = { p = "5%", r = "25%", bad = "100%", good = "0%" }`: tc
/// netem's `loss gemodel p r 1-h 1-k`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstDoc {
    /// Good → bad per datagram: how often a burst starts.
    pub p: Percent,
    /// Bad → good per datagram: a burst lasts 1/r datagrams on average.
    pub r: Percent,
    /// Loss in the bad state (netem's 1-h); 100% when left out.
    pub bad: Option<Percent>,
    /// Loss in the good state (netem's 1-k); 0% when left out.
    pub good: Option<Percent>,
}

impl ImpairDoc {
    /// `self`, with every field `over` sets taken from `over`.
    pub fn overlay(&self, over: &ImpairDoc) -> ImpairDoc {
        macro_rules! pick {
            ($($f:ident),*) => { ImpairDoc { $($f: over.$f.clone().or(self.$f.clone())),* } };
        }
        pick!(
            loss,
            duplicate,
            reorder,
            reorder_delay,
            delay,
            jitter,
            rate,
            queue_limit,
            slice,
            reset_after,
            stall_after,
            stall_for,
            rto,
            loss_burst,
            distribution,
            corrupt,
            queue_bytes,
            mtu
        )
    }

    /// The fields set that only the simulated network's links understand.
    pub fn simulated_only_fields(&self) -> Vec<&'static str> {
        [
            (self.loss_burst.is_some(), "loss_burst"),
            (self.distribution.is_some(), "distribution"),
            (self.corrupt.is_some(), "corrupt"),
            (self.queue_bytes.is_some(), "queue_bytes"),
            (self.mtu.is_some(), "mtu"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }

    /// The fields set that only UDP links understand, and those only TCP
    /// links do.
    pub fn transport_only_fields(&self) -> (Vec<&'static str>, Vec<&'static str>) {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for (set, name) in [
            (self.duplicate.is_some(), "duplicate"),
            (self.reorder.is_some(), "reorder"),
            (self.reorder_delay.is_some(), "reorder_delay"),
            (self.queue_limit.is_some(), "queue_limit"),
        ] {
            if set {
                udp.push(name);
            }
        }
        for (set, name) in [
            (self.slice.is_some(), "slice"),
            (self.reset_after.is_some(), "reset_after"),
            (self.stall_after.is_some(), "stall_after"),
            (self.stall_for.is_some(), "stall_for"),
            (self.rto.is_some(), "rto"),
        ] {
            if set {
                tcp.push(name);
            }
        }
        (udp, tcp)
    }
}
