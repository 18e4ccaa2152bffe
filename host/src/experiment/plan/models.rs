//! The simulated network's own link models, read from one direction's
//! table: loss in bursts, a delay distribution, corruption, a queue in
//! bytes and an MTU, each checked as the simulated link will apply it.

use std::time::Duration;

use socklab_sim::{BurstLoss, Distribution, LinkModels};

use crate::experiment::file::{BurstDoc, ImpairDoc};

/// What `doc` (one direction, `both` merged in) asks of the simulated link
/// beyond the relays' impairments; why it cannot be, if it cannot.
pub(super) fn sim_models(doc: &ImpairDoc) -> Result<LinkModels, String> {
    let distribution = match doc.distribution.as_deref() {
        None => None,
        Some(name) => match Distribution::from_name(name) {
            Some(d) => Some(d),
            None => {
                return Err(format!(
                    "`distribution` is one of fixed, uniform, normal, pareto, not `{name}`"
                ));
            }
        },
    };
    if let Some(d) = distribution {
        let delay = doc.delay.map_or(Duration::ZERO, |d| d.0);
        let jitter = doc.jitter.map_or(Duration::ZERO, |d| d.0);
        d.check(delay, jitter)?;
    }
    if let Some(bytes) = doc.queue_bytes {
        if doc.rate.is_none() {
            return Err(
                "`queue_bytes` needs a `rate` on the same direction: only a rate limit makes packets wait in the queue"
                    .into(),
            );
        }
        if bytes.0 == 0 {
            return Err("`queue_bytes` must be at least 1 byte".into());
        }
    }
    Ok(LinkModels {
        burst: doc.loss_burst.as_ref().map(burst_loss),
        distribution,
        corrupt: doc.corrupt.map_or(0.0, |p| p.0),
        queue_bytes: doc.queue_bytes.map(|b| b.0),
        mtu: doc.mtu.map(|m| m.0 as usize),
    })
}

/// A `loss_burst` table as the simulated link takes it.
fn burst_loss(doc: &BurstDoc) -> BurstLoss {
    BurstLoss {
        p: doc.p.0,
        r: doc.r.0,
        loss_bad: doc.bad.map_or(1.0, |b| b.0),
        loss_good: doc.good.map_or(0.0, |g| g.0),
    }
}
