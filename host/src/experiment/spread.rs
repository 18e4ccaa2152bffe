//! Where a p99 RTT could lie: the interval the order statistics give, and
//! how far it moved over the run (batch means). A lesson calls two
//! transports' tails different only when these keep them apart.

/// Quantile `q` (0..=1) of `sorted` by nearest rank; `None` when empty.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// A 99% confidence interval for quantile `q` of the distribution `sorted`
/// was drawn from: the order statistics at ranks `n q ± z sqrt(n q (1 - q))`
/// (the normal approximation of the binomial count below the quantile).
pub fn quantile_interval(sorted: &[f64], q: f64) -> Option<(f64, f64)> {
    let n = sorted.len() as f64;
    if sorted.is_empty() {
        return None;
    }
    const Z: f64 = 2.576;
    let centre = n * q;
    let half = Z * (n * q * (1.0 - q)).sqrt();
    let rank = |r: f64| (r.clamp(1.0, n) as usize) - 1;
    Some((
        sorted[rank((centre - half).floor())],
        sorted[rank((centre + half).ceil() + 1.0)],
    ))
}

/// At most how many batches [`batch_range`] cuts a run's answers into.
pub const BATCHES: usize = 5;
/// The fewest answers in a batch of [`batch_range`].
pub const BATCH_MIN: usize = 30;

/// The lowest and highest quantile `q` (nearest rank) of `by_send` cut into
/// consecutive batches (batch means, for samples that are not
/// independent): up to [`BATCHES`] of at least [`BATCH_MIN`] each, `None`
/// when there are not two.
pub fn batch_range(by_send: &[f64], q: f64) -> Option<(f64, f64)> {
    let batches = (by_send.len() / BATCH_MIN).min(BATCHES);
    if batches < 2 {
        return None;
    }
    let quantiles = (0..batches).filter_map(|i| {
        let batch = &by_send[i * by_send.len() / batches..(i + 1) * by_send.len() / batches];
        let mut sorted = batch.to_vec();
        sorted.sort_by(f64::total_cmp);
        nearest_rank(&sorted, q)
    });
    quantiles.fold(None, |range, x| match range {
        None => Some((x, x)),
        Some((low, high)) => Some((f64::min(low, x), f64::max(high, x))),
    })
}
