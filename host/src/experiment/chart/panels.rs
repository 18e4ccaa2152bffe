//! The chart's two panels, RTT over time and the RTT histogram, or in
//! their place the sentence that says nothing was answered.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{Axis, Label, Scale, ms_label};
use super::{
    Area, Drawn, MUTED, Mark, Message, SMALL, Series, TEXT, colour, draw_marker, fate_word, font,
};
use crate::experiment::fates::FateKind;
use crate::roles::Transport;

/// The room right of the RTT-over-time panel, where the timeouts are named.
const TIMEOUT_LABELS: u32 = 96;
/// Bars in the histogram.
const BINS: usize = 30;

/// A series' answered messages: (sent at, RTT), in ms.
pub(super) fn answered(s: &Series) -> impl Iterator<Item = (f64, f64)> + Clone + '_ {
    s.messages
        .iter()
        .filter_map(|m| Some((m.sent_at_ms, m.rtt_ms?.max(1e-3))))
}

/// A series' messages without an answer.
fn unanswered(s: &Series) -> impl Iterator<Item = &Message> + Clone + '_ {
    s.messages.iter().filter(|m| m.rtt_ms.is_none())
}

/// RTT over time: answered messages as dots, the others marked at their
/// client's timeout (a dashed line), duplicated replies ringed.
pub(super) fn draw_over_time(area: &Area<'_>, series: &[Series]) -> Drawn {
    let levels = || {
        series
            .iter()
            .flat_map(|s| unanswered(s).map(|m| m.timeout_ms.max(1e-3)))
    };
    let rtts = || series.iter().flat_map(|s| answered(s).map(|p| p.1));
    let scale = Scale::of(rtts().chain(levels()));
    let lo = rtts().chain(levels()).fold(f64::MAX, f64::min);
    let hi = rtts().chain(levels()).fold(0.0, f64::max);
    let (y_lo, y_hi) = scale.range(lo, hi, true);
    let t_hi = series
        .iter()
        .flat_map(|s| s.messages.iter().map(|m| m.sent_at_ms))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.03;
    let time = Label::Time {
        seconds: t_hi >= 2000.0,
    };
    let mut chart = ChartBuilder::on(area)
        .caption("RTT over time", font(18.0))
        .margin(12)
        .margin_right(TIMEOUT_LABELS)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(
            Axis::new(Scale { log: false }, 0.0, t_hi, time, 8),
            Axis::new(scale, y_lo, y_hi, Label::Rtt(scale), 12),
        )?;
    let rtt_desc = scale.describe("RTT");
    chart
        .configure_mesh()
        .x_desc("time since the experiment started")
        .y_desc(rtt_desc.as_str())
        .label_style(font(14.0))
        .axis_desc_style(font(15.0))
        .draw()?;

    draw_timeouts(&mut chart, scale, series, t_hi)?;
    draw_marks(&mut chart, scale, series, t_hi)
}

/// The panel's coordinates: time in ms, and the RTT axis.
type OverTime<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

/// The timeouts, beneath the markers: a dashed line per level, named in the
/// right margin, the names kept apart when levels are close.
fn draw_timeouts(
    chart: &mut OverTime<'_, '_>,
    scale: Scale,
    series: &[Series],
    t_hi: f64,
) -> Drawn {
    let mut timeouts: Vec<(f64, Vec<Transport>)> = Vec::new();
    for s in series {
        for m in unanswered(s) {
            match timeouts.iter_mut().find(|(at, _)| *at == m.timeout_ms) {
                Some((_, ts)) if ts.contains(&s.transport) => {}
                Some((_, ts)) => ts.push(s.transport),
                None => timeouts.push((m.timeout_ms, vec![s.transport])),
            }
        }
    }
    timeouts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut free_from: Option<i32> = None;
    for (at, transports) in &timeouts {
        let y = scale.to_axis(at.max(1e-3));
        chart.draw_series(std::iter::once(DashedPathElement::new(
            vec![(0.0, y), (t_hi, y)],
            6,
            4,
            MUTED.stroke_width(1),
        )))?;
        let names: Vec<String> = transports.iter().map(|t| t.to_string()).collect();
        let line_y = chart.backend_coord(&(t_hi, y)).1;
        let shift = free_from.map_or(0, |free| (free - line_y).max(0));
        free_from = Some(line_y + shift + 32);
        let style = font(SMALL)
            .color(&MUTED)
            .pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(std::iter::once(
            EmptyElement::at((t_hi, y))
                + Text::new(
                    format!("{} timeout", names.join(", ")),
                    (8, shift - 7),
                    style.clone(),
                )
                + Text::new(ms_label(*at), (8, shift + 8), style),
        ))?;
    }
    Ok(())
}

/// Answered messages as dots, the others marked at their timeout (with the
/// count beside a pile), duplicated replies ringed.
fn draw_marks(chart: &mut OverTime<'_, '_>, scale: Scale, series: &[Series], t_hi: f64) -> Drawn {
    let count: usize = series.iter().map(|s| s.messages.len()).sum();
    let dot = if count > 300 { 2 } else { 3 };
    let at = |m: &Message| {
        let rtt = m.rtt_ms.unwrap_or(m.timeout_ms).max(1e-3);
        (m.sent_at_ms, scale.to_axis(rtt))
    };
    let plot = chart.plotting_area();
    for s in series {
        for (t, rtt) in answered(s) {
            draw_marker(
                plot,
                Mark::Answered(s.transport),
                (t, scale.to_axis(rtt)),
                dot,
            )?;
        }
    }
    // The crosses of lost messages last: thin, they show over the rest.
    for fate in [
        FateKind::Failed,
        FateKind::Interrupted,
        FateKind::Late,
        FateKind::Lost,
    ] {
        for s in series {
            let marks: Vec<&Message> = unanswered(s).filter(|m| m.fate == fate).collect();
            for m in &marks {
                draw_marker(plot, Mark::Unanswered(fate), at(m), dot)?;
            }
            // Many on one spot (every message after a reset, say) would
            // look like one: say how many.
            for (m, n) in piles(&marks, |m| chart.backend_coord(&at(m)).0) {
                // Written below the pile, towards the middle of the panel.
                let (dx, side) = match m.sent_at_ms > t_hi / 2.0 {
                    true => (-8, HPos::Right),
                    false => (8, HPos::Left),
                };
                let count = Text::new(
                    format!("{n} {}", fate_word(fate)),
                    (dx, 16),
                    font(SMALL).pos(Pos::new(side, VPos::Center)),
                );
                plot.draw(&(EmptyElement::at(at(m)) + count))?;
            }
        }
    }
    for s in series {
        for m in s.messages.iter().filter(|m| m.duplicated) {
            draw_marker(plot, Mark::Duplicated, at(m), dot)?;
        }
    }
    Ok(())
}

/// Runs of at least [`PILE`] marks each within 2 px of the next along `x`:
/// the last mark of each, and how many there are.
fn piles<'m>(marks: &[&'m Message], x: impl Fn(&Message) -> i32) -> Vec<(&'m Message, usize)> {
    let mut placed: Vec<(i32, &Message)> = marks.iter().map(|&m| (x(m), m)).collect();
    placed.sort_by_key(|p| p.0);
    let mut piles = Vec::new();
    let mut start = 0;
    for i in 1..=placed.len() {
        if i == placed.len() || placed[i].0 - placed[i - 1].0 > 2 {
            if i - start >= PILE {
                piles.push((placed[i - 1].1, i - start));
            }
            start = i;
        }
    }
    piles
}

/// How many marks on one spot get their count written beside them.
const PILE: usize = 5;

/// The answered messages' RTTs: bins of equal width on the RTT axis (so
/// log-spaced on a log axis), each transport's bar side by side in each.
pub(super) fn draw_histogram(area: &Area<'_>, series: &[Series]) -> Drawn {
    let rtts = || series.iter().flat_map(|s| answered(s).map(|p| p.1));
    let scale = Scale::of(rtts());
    let lo = rtts().fold(f64::MAX, f64::min);
    let hi = rtts().fold(0.0, f64::max);
    let (x_lo, x_hi) = scale.range(lo, hi, false);
    let width = (x_hi - x_lo) / BINS as f64;
    let drawn: Vec<(&Series, Vec<u32>)> = series
        .iter()
        .filter(|s| answered(s).next().is_some())
        .map(|s| {
            let mut bins = vec![0u32; BINS];
            for (_, rtt) in answered(s) {
                let bin = ((scale.to_axis(rtt) - x_lo) / width).max(0.0) as usize;
                bins[bin.min(BINS - 1)] += 1;
            }
            (s, bins)
        })
        .collect();
    let count_max = drawn
        .iter()
        .flat_map(|d| &d.1)
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(area)
        .caption("RTT histogram", font(18.0))
        .margin(12)
        // Room for the last tick's label, centred on the axis' end.
        .margin_right(28)
        .x_label_area_size(44)
        .y_label_area_size(52)
        .build_cartesian_2d(
            Axis::new(scale, x_lo, x_hi, Label::Rtt(scale), 7),
            0u32..count_max + count_max / 8 + 1,
        )?;
    let x_desc = scale.describe("RTT of answered messages");
    chart
        .configure_mesh()
        .x_desc(x_desc.as_str())
        .y_desc("messages")
        .label_style(font(14.0))
        .axis_desc_style(font(15.0))
        .draw()?;
    let lane = width / drawn.len().max(1) as f64;
    for (i, (s, bins)) in drawn.iter().enumerate() {
        let c = colour(s.transport);
        chart.draw_series(
            bins.iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(bin, &n)| {
                    let x0 = x_lo + bin as f64 * width + i as f64 * lane;
                    Rectangle::new([(x0, 0), (x0 + lane * 0.9, n)], c.mix(0.85).filled())
                }),
        )?;
    }
    Ok(())
}

/// In place of the panels when no message was answered: no RTT to plot.
pub(super) fn draw_nothing_answered(area: &Area<'_>, series: &[Series]) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    area.draw(&Rectangle::new(
        [(20, 12), (w - 20, h - 12)],
        MUTED.mix(0.4).stroke_width(1),
    ))?;
    let sent = series.iter().any(|s| !s.messages.is_empty());
    let line = match sent {
        true => "No message was answered: there is no RTT to plot.",
        false => "No message was sent: there is no RTT to plot.",
    };
    let below = match (sent, series.len()) {
        (false, _) => "report.json says what each guest did.",
        (true, 1) => "The bar above says what became of each message.",
        (true, _) => "The bars above say what became of each message.",
    };
    area.draw(&Text::new(
        line,
        (w / 2, h / 2 - 14),
        font(24.0).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    area.draw(&Text::new(
        below,
        (w / 2, h / 2 + 18),
        font(TEXT)
            .color(&MUTED)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}
