//! What a relay does to the traffic of one direction of a link: the UDP and
//! TCP impairments, their defaults (none) and their validation.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// The most datagrams a UDP direction holds by default.
pub const DEFAULT_QUEUE_LIMIT: usize = 1024;

/// The initial TCP retransmission timeout by default (Linux's `TCP_TIMEOUT_INIT`
/// is 1 s, but its minimum RTO, what a loopback connection settles to, is 200 ms).
pub const DEFAULT_RTO: Duration = Duration::from_millis(200);

/// The longest one retransmission timeout grows to by doubling (Linux's
/// `TCP_RTO_MAX`).
pub const MAX_RTO: Duration = Duration::from_secs(120);

/// The longest any one duration of an impairment may be (one hour): longer
/// ones are refused by `validate`, so that no due time can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// Impairments of one direction of a UDP link, applied to each datagram.
///
/// The default impairs nothing. Durations serialise as integer microseconds
/// (fields suffixed `_us`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UdpImpairments {
    /// Probability, in `[0, 1]`, that a datagram is dropped. Default 0.
    pub loss: f64,
    /// Probability, in `[0, 1]`, that a datagram that was not dropped is
    /// delivered twice. The copy gets its own jitter. Default 0.
    pub duplicate: f64,
    /// Probability, in `[0, 1]`, that a datagram is held back by
    /// `reorder_delay` on top of its delay, so that later ones overtake it.
    /// Default 0.
    pub reorder: f64,
    /// How long a datagram chosen by `reorder` is held back. Default 0.
    #[serde(rename = "reorder_delay_us", serialize_with = "micros")]
    pub reorder_delay: Duration,
    /// Fixed delay added to every datagram. Default 0.
    #[serde(rename = "delay_us", serialize_with = "micros")]
    pub delay: Duration,
    /// Upper bound of a random delay, uniform in `[0, jitter]`, added to
    /// `delay` for each datagram: `delay` is the minimum, `delay + jitter`
    /// the maximum. Jitter alone can reorder datagrams. Default 0.
    #[serde(rename = "jitter_us", serialize_with = "micros")]
    pub jitter: Duration,
    /// Rate limit in bytes of UDP payload per second: each datagram takes
    /// `len / rate` seconds of the link, one after another, before its delay
    /// starts. `None` (default): no limit.
    pub rate: Option<u64>,
    /// Most datagrams this direction holds at once (waiting for the rate
    /// limit or for their delay). A datagram arriving when the queue is full
    /// is dropped and counted in `rate_dropped`. Default
    /// [`DEFAULT_QUEUE_LIMIT`]; must be at least 1.
    pub queue_limit: usize,
}

impl Default for UdpImpairments {
    fn default() -> Self {
        UdpImpairments {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate: None,
            queue_limit: DEFAULT_QUEUE_LIMIT,
        }
    }
}

impl UdpImpairments {
    /// Checks that the numbers make sense: probabilities in `[0, 1]`,
    /// durations up to [`MAX_DURATION`], a rate above 0 and a queue of at
    /// least one datagram.
    pub fn validate(&self) -> Result<(), String> {
        duration("reorder_delay", self.reorder_delay)?;
        duration("delay", self.delay)?;
        duration("jitter", self.jitter)?;
        probability("loss", self.loss)?;
        probability("duplicate", self.duplicate)?;
        probability("reorder", self.reorder)?;
        if self.rate == Some(0) {
            return Err("rate must be above 0 bytes per second (None for no limit)".into());
        }
        if self.queue_limit == 0 {
            return Err("queue_limit must be at least 1 datagram".into());
        }
        Ok(())
    }
}

/// Impairments of one direction of a TCP link, applied to the byte stream.
///
/// The relay cuts what it reads into segments (at most `slice` bytes, and
/// also at the `reset_after` and `stall_after` offsets) and delivers them in
/// order. The default impairs nothing. Durations serialise as integer
/// microseconds (fields suffixed `_us`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TcpImpairments {
    /// Fixed delay added to every segment. Default 0.
    #[serde(rename = "latency_us", serialize_with = "micros")]
    pub latency: Duration,
    /// Upper bound of a random delay, uniform in `[0, jitter]`, added to
    /// `latency` per segment. Segments never overtake each other: one whose
    /// draw is smaller waits for the one before it. Default 0.
    #[serde(rename = "jitter_us", serialize_with = "micros")]
    pub jitter: Duration,
    /// Bandwidth in bytes per second: each segment takes `len / bandwidth`
    /// seconds of the link, one after another. `None` (default): no limit.
    pub bandwidth: Option<u64>,
    /// Largest segment, in bytes: each read is cut into writes of at most
    /// this many bytes. `None` (default): segments are whatever one read
    /// returned (at most 32 KiB).
    pub slice: Option<usize>,
    /// After this many bytes in this direction have been delivered, reset
    /// the connection: both the client and the server get an RST (the relay
    /// closes both sockets with `SO_LINGER` 0). `None` (default): never.
    pub reset_after: Option<u64>,
    /// After this many bytes in this direction, hold the rest back for
    /// `stall_for`, once per connection. `None` (default): never.
    pub stall_after: Option<u64>,
    /// How long a stall lasts: the segment at offset `stall_after` is
    /// delivered no sooner than `stall_for` after it arrived and after the
    /// segment before it was due. Default 0.
    #[serde(rename = "stall_for_us", serialize_with = "micros")]
    pub stall_for: Duration,
    /// Probability, in `[0, 1)`, that one transmission of a segment is
    /// "lost". A relay cannot make the kernel retransmit, so a lost segment
    /// is delivered after a retransmission timeout instead, and everything
    /// behind it waits (head-of-line blocking). Default 0.
    pub loss: f64,
    /// The first retransmission timeout; it doubles on each further loss of
    /// the same segment, up to [`MAX_RTO`]. Default [`DEFAULT_RTO`] (200 ms).
    #[serde(rename = "rto_us", serialize_with = "micros")]
    pub rto: Duration,
}

impl Default for TcpImpairments {
    fn default() -> Self {
        TcpImpairments {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            bandwidth: None,
            slice: None,
            reset_after: None,
            stall_after: None,
            stall_for: Duration::ZERO,
            loss: 0.0,
            rto: DEFAULT_RTO,
        }
    }
}

impl TcpImpairments {
    /// Checks that the numbers make sense: `loss` in `[0, 1)` (at 1 no byte
    /// would ever arrive), durations up to [`MAX_DURATION`], a bandwidth and
    /// a slice above 0, and a non-zero `rto` when there is loss.
    pub fn validate(&self) -> Result<(), String> {
        duration("latency", self.latency)?;
        duration("jitter", self.jitter)?;
        duration("stall_for", self.stall_for)?;
        duration("rto", self.rto)?;
        probability("loss", self.loss)?;
        if self.loss >= 1.0 {
            return Err("TCP loss must be below 1: every segment is delivered in the end".into());
        }
        if self.bandwidth == Some(0) {
            return Err("bandwidth must be above 0 bytes per second (None for no limit)".into());
        }
        if self.slice == Some(0) {
            return Err("slice must be at least 1 byte (None for no slicing)".into());
        }
        if self.loss > 0.0 && self.rto.is_zero() {
            return Err("rto must be above 0 when loss is set".into());
        }
        Ok(())
    }
}

fn duration(name: &str, d: Duration) -> Result<(), String> {
    if d <= MAX_DURATION {
        Ok(())
    } else {
        Err(format!(
            "{name} must be at most {MAX_DURATION:?}, not {d:?}"
        ))
    }
}

fn probability(name: &str, p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("{name} must be a probability in [0, 1], not {p}"))
    }
}

/// Serialises a duration as whole microseconds (saturating at `u64::MAX`).
pub(crate) fn micros<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(crate::stats::micros(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_nonsense_is_not() {
        assert_eq!(UdpImpairments::default().validate(), Ok(()));
        assert_eq!(TcpImpairments::default().validate(), Ok(()));
        let udp = |f: fn(&mut UdpImpairments)| {
            let mut i = UdpImpairments::default();
            f(&mut i);
            i.validate()
        };
        assert!(udp(|i| i.loss = 1.5).is_err());
        assert!(udp(|i| i.duplicate = -0.1).is_err());
        assert!(udp(|i| i.reorder = f64::NAN).is_err());
        assert!(udp(|i| i.rate = Some(0)).is_err());
        assert!(udp(|i| i.queue_limit = 0).is_err());
        assert!(udp(|i| i.delay = Duration::MAX).is_err());
        assert!(udp(|i| i.loss = 1.0).is_ok());
        let tcp = |f: fn(&mut TcpImpairments)| {
            let mut i = TcpImpairments::default();
            f(&mut i);
            i.validate()
        };
        assert!(tcp(|i| i.loss = 1.0).is_err());
        assert!(tcp(|i| i.bandwidth = Some(0)).is_err());
        assert!(tcp(|i| i.slice = Some(0)).is_err());
        assert!(
            tcp(|i| {
                i.loss = 0.1;
                i.rto = Duration::ZERO
            })
            .is_err()
        );
        assert!(tcp(|i| i.stall_for = MAX_DURATION * 2).is_err());
        assert!(tcp(|i| i.loss = 0.3).is_ok());
    }

    #[test]
    fn durations_serialise_as_microseconds() {
        let udp = UdpImpairments {
            delay: Duration::from_millis(5),
            ..UdpImpairments::default()
        };
        let json = serde_json::to_value(&udp).expect("serialisable");
        assert_eq!(json["delay_us"], 5000);
        assert_eq!(json["rate"], serde_json::Value::Null);
        let json = serde_json::to_value(TcpImpairments::default()).expect("serialisable");
        assert_eq!(json["rto_us"], 200_000);
    }
}
