//! The link models only the simulated network has, beside the relays'
//! impairments: loss in bursts, latency drawn from a distribution on a link
//! that keeps its order, corruption that the receiver's checksum catches, a
//! queue measured in bytes, and an MTU that fragments what exceeds it.
//!
//! Every field's default leaves a link exactly as a relay would impair it,
//! with the same draws: a link that sets none of them stays a twin of a real
//! one.

use std::time::Duration;

use super::burst::BurstLoss;

/// What a simulated link does beyond `UdpImpairments`, per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkModels {
    /// Loss in bursts (Gilbert–Elliott), drawn after `impair.loss`.
    pub burst: Option<BurstLoss>,
    /// How `impair.delay` and `impair.jitter` are read: `None` as the relay
    /// reads them (`delay` plus a uniform draw in `[0, jitter]`, which can
    /// reorder); `Some` as a distribution of mean `delay` and spread
    /// `jitter` on a link that never lets a packet overtake the one sent
    /// before it (only `impair.reorder` reorders).
    pub distribution: Option<Distribution>,
    /// Probability that a copy crosses the link with one bit flipped: the
    /// receiver's checksum (UDP's, TCP's) finds it and drops the packet,
    /// counted in `corrupted`.
    pub corrupt: f64,
    /// Most bytes waiting for the link's `rate` at once: a packet that would
    /// take the backlog past it is dropped at the tail and counted in
    /// `rate_dropped`. Needs a rate (without one nothing waits).
    pub queue_bytes: Option<u64>,
    /// Largest IP packet the link carries, headers included: a UDP
    /// datagram over it crosses as IP fragments, each lost on its own (the
    /// datagram with it), counted in `fragmented`; a node's TCP sends
    /// segments that fit its smallest link MTU.
    pub mtu: Option<usize>,
}

/// The shape of a link's delay around its mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// Always the mean: `jitter` must be 0.
    Fixed,
    /// Uniform in `[mean - jitter, mean + jitter]`.
    Uniform,
    /// Normal with standard deviation `jitter`.
    Normal,
    /// Pareto with the given mean and standard deviation: a heavy tail
    /// (shape `α = 1 + √(1 + mean²/jitter²)`, above 2, scale
    /// `mean·(α-1)/α`, the smallest delay it ever draws).
    Pareto,
}

impl Distribution {
    /// Its name in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Fixed => "fixed",
            Distribution::Uniform => "uniform",
            Distribution::Normal => "normal",
            Distribution::Pareto => "pareto",
        }
    }

    /// The one named `name`.
    pub fn from_name(name: &str) -> Option<Distribution> {
        [
            Distribution::Fixed,
            Distribution::Uniform,
            Distribution::Normal,
            Distribution::Pareto,
        ]
        .into_iter()
        .find(|d| d.name() == name)
    }

    /// Why `mean` and `spread` do not make a delay of this shape, if they
    /// do not.
    pub fn check(self, mean: Duration, spread: Duration) -> Result<(), String> {
        match self {
            Distribution::Fixed if !spread.is_zero() => {
                Err("a `fixed` delay takes no `jitter`; drop it or pick another distribution".into())
            }
            Distribution::Pareto if mean.is_zero() || spread.is_zero() => Err(
                "a `pareto` delay needs both `delay` (its mean) and `jitter` (its standard deviation) above 0"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    /// One delay, in µs, of mean `mean` and spread `spread`, from two draws
    /// `u`, `v` in `[0, 1)`; never below 0 (the tail of a uniform or normal
    /// that would fall below is cut at 0).
    pub fn sample(self, mean: Duration, spread: Duration, u: f64, v: f64) -> u64 {
        let (m, s) = (mean.as_secs_f64() * 1e6, spread.as_secs_f64() * 1e6);
        let x = match self {
            Distribution::Fixed => m,
            Distribution::Uniform => m + s * (2.0 * u - 1.0),
            Distribution::Normal => {
                // Box–Muller; 1 - u is in (0, 1], so its log is finite.
                let z = (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                m + s * z
            }
            Distribution::Pareto => {
                let alpha = 1.0 + (1.0 + (m / s).powi(2)).sqrt();
                let scale = m * (alpha - 1.0) / alpha;
                scale / (1.0 - u).powf(1.0 / alpha)
            }
        };
        // Saturates: an hour is the most a delay may be, far below u64.
        x.max(0.0).round() as u64
    }
}

/// How many IP fragments a UDP datagram of `payload` bytes becomes on a
/// link of `mtu` (1 when it fits): each fragment carries a multiple of 8
/// bytes of the UDP datagram (header included) after its IP header (and,
/// on IPv6, the 8-byte fragment header).
pub(crate) fn fragments(payload: usize, ipv6: bool, mtu: usize) -> usize {
    let ip = if ipv6 { 40 } else { 20 };
    let datagram = payload + 8;
    if datagram + ip <= mtu {
        return 1;
    }
    let per = (mtu - ip - if ipv6 { 8 } else { 0 }) / 8 * 8;
    datagram.div_ceil(per.max(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread_of(d: Distribution, n: u64) -> (f64, f64) {
        let (mean, sd) = (Duration::from_millis(10), Duration::from_millis(2));
        let xs: Vec<f64> = (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                let v = ((i * 7919) % n) as f64 / n as f64;
                d.sample(mean, sd, u, v) as f64
            })
            .collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        (m, var.sqrt())
    }

    #[test]
    fn each_distribution_has_its_mean_and_spread() {
        assert_eq!(spread_of(Distribution::Fixed, 100), (10_000.0, 0.0));
        let (m, s) = spread_of(Distribution::Uniform, 10_000);
        assert!((m - 10_000.0).abs() < 20.0 && (s - 2_000.0 / 3f64.sqrt()).abs() < 20.0);
        let (m, s) = spread_of(Distribution::Normal, 10_000);
        assert!(
            (m - 10_000.0).abs() < 50.0 && (s - 2_000.0).abs() < 60.0,
            "{m} {s}"
        );
        // A heavy tail converges slowly: a quantile grid still lands near.
        let (m, s) = spread_of(Distribution::Pareto, 100_000);
        assert!(
            (m - 10_000.0).abs() < 150.0 && (s - 2_000.0).abs() < 400.0,
            "{m} {s}"
        );
        let min = Distribution::Pareto.sample(
            Duration::from_millis(10),
            Duration::from_millis(2),
            0.0,
            0.0,
        );
        assert!((8_000..10_000).contains(&min), "the scale: {min}");
    }

    #[test]
    fn checks_and_names() {
        let ms = Duration::from_millis;
        assert!(Distribution::Fixed.check(ms(5), ms(1)).is_err());
        assert!(Distribution::Pareto.check(ms(5), ms(0)).is_err());
        assert!(Distribution::Normal.check(ms(0), ms(5)).is_ok());
        for d in ["fixed", "uniform", "normal", "pareto"] {
            assert_eq!(Distribution::from_name(d).map(|d| d.name()), Some(d));
        }
        assert_eq!(Distribution::from_name("gamma"), None);
    }

    #[test]
    fn fragments_count_as_ip_cuts_them() {
        assert_eq!(fragments(1472, false, 1500), 1);
        assert_eq!(fragments(1473, false, 1500), 2);
        // 4000 + 8 bytes in 1480-byte pieces.
        assert_eq!(fragments(4000, false, 1500), 3);
        // IPv6: 1500 - 40 - 8 = 1452, rounded down to 1448.
        assert_eq!(fragments(1452, true, 1500), 1);
        assert_eq!(fragments(1453, true, 1500), 2);
        assert_eq!(fragments(65_507, false, 1280), 53);
    }
}
