//! An RTT axis, linear or logarithmic, and the ticks and labels of every
//! axis of the chart: `0.25 ms`, `40 ms`, `6 s`, never `6000.0`.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

/// How RTTs map onto an axis: as they are, or as their logarithm when they
/// span more than 10×. Points are placed in axis units; labels say ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Scale {
    pub(super) log: bool,
}

impl Scale {
    /// The scale for `values` (ms, all above 0): log when the largest is
    /// more than 10× the smallest.
    pub(super) fn of(values: impl Iterator<Item = f64> + Clone) -> Scale {
        let lo = values.clone().fold(f64::MAX, f64::min);
        let hi = values.fold(0.0, f64::max);
        Scale {
            log: lo > 0.0 && hi / lo > 10.0,
        }
    }

    pub(super) fn to_axis(self, ms: f64) -> f64 {
        match self.log {
            true => ms.max(1e-4).log10(),
            false => ms,
        }
    }

    pub(super) fn to_ms(self, axis: f64) -> f64 {
        match self.log {
            true => 10f64.powf(axis),
            false => axis,
        }
    }

    /// The axis range (axis units) that holds `lo..=hi` ms with some room;
    /// a linear RTT axis starts at 0 when `from_zero`.
    pub(super) fn range(self, lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
        let (a, b) = (self.to_axis(lo), self.to_axis(hi));
        let pad = ((b - a) * 0.06).max(if self.log { 0.15 } else { hi * 0.05 + 1e-3 });
        match (self.log, from_zero) {
            (false, true) => (0.0, b + pad),
            (false, false) => ((a - pad).max(0.0), b + pad),
            (true, _) => (a - pad, b + pad),
        }
    }

    /// Bold (labelled) and light tick positions, in axis units, for
    /// `lo..hi`: at most `most` labelled, at 1, 2 or 5 times a power of ten
    /// (on a log axis: 1, 2 and 5 of each decade, or 1 and 3, or 1 of every
    /// decade or every other, whichever fits).
    pub(super) fn ticks(self, lo: f64, hi: f64, most: usize) -> (Vec<f64>, Vec<f64>) {
        if !self.log {
            let step = nice_step((hi - lo) / most as f64);
            let at = |step: f64| -> Vec<f64> {
                ((lo / step).ceil() as i64..=(hi / step).floor() as i64)
                    .map(|k| k as f64 * step)
                    .collect()
            };
            return (at(step), at(step / 5.0));
        }
        let of = |ms: &[f64], every: i32| -> Vec<f64> {
            (lo.floor() as i32..=hi.ceil() as i32)
                .filter(|d| d.rem_euclid(every) == 0)
                .flat_map(|d| ms.iter().map(move |m| (m * 10f64.powi(d)).log10()))
                .filter(|v| (lo..=hi).contains(v))
                .collect()
        };
        let light = of(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 1);
        for ms in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0], &[1.0]] {
            let bold = of(ms, 1);
            if bold.len() <= most {
                return (bold, light);
            }
        }
        let every = ((hi - lo) / most as f64).ceil().max(1.0) as i32;
        (of(&[1.0], every), light)
    }

    pub(super) fn describe(self, what: &str) -> String {
        match self.log {
            true => format!("{what} (log scale)"),
            false => what.to_string(),
        }
    }
}

/// What an axis's tick labels say.
#[derive(Debug, Clone, Copy)]
pub(super) enum Label {
    /// An RTT in ms or s, at its place on `Scale`.
    Rtt(Scale),
    /// Time since the start, all in s or all in ms.
    Time { seconds: bool },
}

/// An axis in axis units (ms, or log10 of ms) with ticks and labels of our
/// own: plotters' labels would say "6000.0" for 6 s, and would show the
/// logarithm itself where a value is placed as its logarithm.
pub(super) struct Axis {
    range: std::ops::Range<f64>,
    bold: Vec<f64>,
    light: Vec<f64>,
    label: Label,
}

impl Axis {
    /// An axis over `lo..hi` (axis units) with at most `most` labels.
    pub(super) fn new(scale: Scale, lo: f64, hi: f64, label: Label, most: usize) -> Axis {
        let (bold, light) = scale.ticks(lo, hi, most);
        Axis {
            range: lo..hi,
            bold,
            light,
            label,
        }
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = (value - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.weight().allow_light_points() {
            true => self.light.clone(),
            false => self.bold.clone(),
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, value: &f64) -> String {
        match self.label {
            Label::Rtt(scale) => ms_label(scale.to_ms(*value)),
            Label::Time { seconds: true } => format!("{} s", short(value / 1000.0)),
            Label::Time { seconds: false } => format!("{} ms", short(*value)),
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-6);
    let power = 10f64.powf(raw.log10().floor());
    let mantissa = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|m| m * power >= raw * 0.999)
        .unwrap_or(10.0);
    mantissa * power
}

/// A number with at most three significant digits and no trailing zeros.
pub(super) fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.decimals$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// A duration in ms as a tick label: `0.25 ms`, `40 ms`, `1.5 s`.
pub(super) fn ms_label(ms: f64) -> String {
    match ms.abs() >= 1000.0 {
        true => format!("{} s", short(ms / 1000.0)),
        false => format!("{} ms", short(ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_say_ms_or_s_with_sensible_precision() {
        for (ms, label) in [
            (6000.0, "6 s"),
            (12000.0, "12 s"),
            (1500.0, "1.5 s"),
            (200.0, "200 ms"),
            (199.99999, "200 ms"),
            (40.0, "40 ms"),
            (2.5, "2.5 ms"),
            (0.25, "0.25 ms"),
            (0.049999, "0.05 ms"),
            (0.0, "0 ms"),
        ] {
            assert_eq!(ms_label(ms), label, "{ms}");
        }
    }

    #[test]
    fn log_ticks_fit_the_room() {
        let log = Scale { log: true };
        let (lo, hi) = (log.to_axis(0.05), log.to_axis(6000.0));
        let (bold, light) = log.ticks(lo, hi, 7);
        assert!(bold.len() <= 7 && bold.len() >= 3, "{bold:?}");
        assert!(light.len() > bold.len());
        let (bold, _) = log.ticks(log.to_axis(2.0), log.to_axis(300.0), 12);
        let labels: Vec<String> = bold.iter().map(|v| ms_label(log.to_ms(*v))).collect();
        assert_eq!(
            labels,
            [
                "2 ms", "5 ms", "10 ms", "20 ms", "50 ms", "100 ms", "200 ms"
            ]
        );
        assert!(Scale::of([0.1, 2.0].into_iter()).log);
        assert!(!Scale::of([1.0, 9.0].into_iter()).log);
    }
}
