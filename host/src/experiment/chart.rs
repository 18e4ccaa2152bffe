//! The chart written beside a lab report (`rtt.svg`): what became of every
//! message, at a glance. From the top: one bar per transport splitting its
//! messages by fate; RTT over time, each message that got no answer marked
//! at its client's timeout; the RTT histogram; a legend; a caption with each
//! link's impairments and the report's lessons.
//!
//! An RTT axis is logarithmic when what it shows spans more than 10× (UDP's
//! sub-millisecond replies beside TCP's retransmission timeouts), and the
//! histogram's bins are then log-spaced. A run where nothing was answered
//! says so instead of drawing empty axes.
//!
//! Where to read: this file holds what the chart is given ([`Chart`]), the
//! page's layout, the markers, the fate bars and the legend; [`panels`]
//! draws RTT over time and the histogram on [`axis`]; [`caption`] writes
//! each link's impairments and wraps the lessons.

mod axis;
mod caption;
mod panels;

use anyhow::{Result, anyhow};
use plotters::coord::{CoordTranslate, Shift};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::fates::FateKind;
use crate::roles::Transport;

pub use caption::link_caption;
use caption::{caption_lines, text_width};
use panels::{answered, draw_histogram, draw_nothing_answered, draw_over_time};

/// What the chart shows, built from a lab run by [`super::run_plan`].
pub struct Chart {
    /// The experiment's name.
    pub title: String,
    /// One line per link node, as [`link_caption`] writes it.
    pub links: Vec<String>,
    /// The report's lessons (`summary::lessons`), one per transport.
    pub lessons: Vec<String>,
    /// One per transport that ran, in the report's order.
    pub series: Vec<Series>,
}

/// One transport's messages.
pub struct Series {
    /// Which transport the series is.
    pub transport: Transport,
    /// Every message of that transport, answered or not.
    pub messages: Vec<Message>,
}

/// One message, as the chart draws it.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    /// Milliseconds from the experiment's start to the send: its place on
    /// the time axis.
    pub sent_at_ms: f64,
    /// What became of it.
    pub fate: FateKind,
    /// Its RTT in ms, when answered.
    pub rtt_ms: Option<f64>,
    /// How long its client waited for each reply: the height at which a
    /// message without an answer is marked.
    pub timeout_ms: f64,
    /// Whether its reply came more than once.
    pub duplicated: bool,
    /// Whether its reply came after a later message's.
    pub reordered: bool,
}

/// The chart as SVG text.
pub fn render_svg(chart: &Chart) -> Result<String> {
    let mut svg = String::new();
    draw(&mut svg, chart).map_err(|e| anyhow!("cannot draw the chart: {e}"))?;
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const WIDTH: u32 = 1200;
const TITLE_H: u32 = 40;
/// One transport's fate bar.
const ROW_H: u32 = 30;
const PANELS_H: u32 = 400;
const LEFT_W: u32 = 680;
/// The panels' place when nothing was answered.
const EMPTY_H: u32 = 130;
const LEGEND_H: u32 = 30;
const LINE_H: u32 = 19;
/// Where the fate bars start and how wide they are.
const BAR_X: i32 = 64;
const BAR_W: i32 = 700;

/// Font sizes as plotters takes them; the SVG says `size / 1.24` px.
const TEXT: f64 = 16.0;
const SMALL: f64 = 15.0;

fn font(size: f64) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

fn draw(svg: &mut String, chart: &Chart) -> Drawn {
    let caption = caption_lines(chart);
    let fates_h = match chart.series.len() {
        0 => 0,
        n => 6 + ROW_H * n as u32,
    };
    let answered = chart
        .series
        .iter()
        .flat_map(|s| &s.messages)
        .any(|m| m.rtt_ms.is_some());
    // Without an answer there is only a sentence to show, and no legend.
    let (panels_h, legend_h) = match answered {
        true => (PANELS_H, LEGEND_H),
        false => (EMPTY_H, 0),
    };
    let caption_h = 12 + LINE_H * caption.len() as u32;
    let height = TITLE_H + fates_h + panels_h + legend_h + caption_h;
    let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, rest) = root.split_vertically(TITLE_H);
    title.draw(&Text::new(
        chart.title.clone(),
        (WIDTH as i32 / 2, TITLE_H as i32 / 2),
        font(24.0).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    let (fates, rest) = rest.split_vertically(fates_h);
    draw_fate_bars(&fates, &chart.series)?;
    let (panels, rest) = rest.split_vertically(panels_h);
    let (legend, bottom) = rest.split_vertically(legend_h);
    if answered {
        let (left, right) = panels.split_horizontally(LEFT_W);
        draw_over_time(&left, &chart.series)?;
        draw_histogram(&right, &chart.series)?;
        draw_legend(&legend, &chart.series)?;
    } else {
        draw_nothing_answered(&panels, &chart.series)?;
    }
    for (i, line) in caption.iter().enumerate() {
        let y = 6 + (LINE_H * i as u32) as i32 + LINE_H as i32 / 2;
        let x = if line.continued { 36 } else { 20 };
        let style = font(line.size).color(&line.colour);
        bottom.draw(&Text::new(
            line.text.clone(),
            (x, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    root.present()?;
    Ok(())
}

// ---- colours and markers --------------------------------------------------

fn colour(transport: Transport) -> RGBColor {
    match transport {
        Transport::Udp => RGBColor(0x1f, 0x77, 0xb4),
        Transport::Tcp => RGBColor(0xff, 0x7f, 0x0e),
    }
}

const LOST: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const LATE: RGBColor = RGBColor(0xa8, 0xa9, 0x1a);
const FAILED: RGBColor = RGBColor(0x94, 0x67, 0xbd);
const INTERRUPTED: RGBColor = RGBColor(0x7f, 0x7f, 0x7f);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// What a marker stands for: a transport's answered message, a fate
/// without an answer (drawn at the client's timeout), a flag, the timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mark {
    Answered(Transport),
    Unanswered(FateKind),
    Duplicated,
    Timeout,
}

/// The fates without an answer, in the order bars and legend show them.
const UNANSWERED: [FateKind; 4] = [
    FateKind::Late,
    FateKind::Lost,
    FateKind::Failed,
    FateKind::Interrupted,
];

fn fate_colour(fate: FateKind, transport: Transport) -> RGBColor {
    match fate {
        FateKind::Answered => colour(transport),
        FateKind::Late => LATE,
        FateKind::Lost => LOST,
        FateKind::Failed => FAILED,
        FateKind::Interrupted => INTERRUPTED,
    }
}

/// The fate as the lessons say it.
fn fate_word(fate: FateKind) -> &'static str {
    match fate {
        FateKind::Answered => "answered",
        FateKind::Late => "late",
        FateKind::Lost => "lost",
        FateKind::Failed => "not sent",
        FateKind::Interrupted => "interrupted",
    }
}

/// Draw the marker of `mark` at `at`, `dot` the radius of an answered
/// message's dot.
fn draw_marker<CT: CoordTranslate>(
    area: &DrawingArea<SVGBackend<'_>, CT>,
    mark: Mark,
    at: CT::From,
    dot: i32,
) -> Drawn
where
    CT::From: Clone,
{
    let at = EmptyElement::at(at);
    match mark {
        Mark::Answered(t) => {
            area.draw(&(at + Circle::new((0, 0), dot, colour(t).mix(0.85).filled())))?
        }
        Mark::Unanswered(FateKind::Late) => {
            area.draw(&(at + TriangleMarker::new((0, 0), 5, LATE.filled())))?
        }
        Mark::Unanswered(FateKind::Failed) => {
            area.draw(&(at + Rectangle::new([(-4, -4), (4, 4)], FAILED.filled())))?
        }
        Mark::Unanswered(FateKind::Interrupted) => {
            area.draw(&(at + Circle::new((0, 0), 4, INTERRUPTED.stroke_width(2))))?
        }
        Mark::Unanswered(_) => area.draw(&(at + Cross::new((0, 0), 4, LOST.stroke_width(2))))?,
        Mark::Duplicated => area.draw(&(at + Circle::new((0, 0), 7, BLACK.stroke_width(1))))?,
        Mark::Timeout => area.draw(
            &(at + DashedPathElement::new(vec![(-9, 0), (9, 0)], 4, 3, MUTED.stroke_width(1))),
        )?,
    }
    Ok(())
}

// ---- the fate bars ----------------------------------------------------------

/// One bar per transport: its messages split by fate, each part labelled
/// when its label fits, the rest and the flags written after the bar.
fn draw_fate_bars(area: &Area<'_>, series: &[Series]) -> Drawn {
    for (row, s) in series.iter().enumerate() {
        let top = 6 + row as i32 * ROW_H as i32;
        let middle = top + ROW_H as i32 / 2 - 2;
        area.draw(&Text::new(
            s.transport.to_string(),
            (20, middle),
            ("sans-serif", TEXT, FontStyle::Bold)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        let total = s.messages.len().max(1) as f64;
        let mut x = BAR_X as f64;
        let mut untold = Vec::new();
        for fate in std::iter::once(FateKind::Answered).chain(UNANSWERED) {
            let n = s.messages.iter().filter(|m| m.fate == fate).count();
            if n == 0 {
                continue;
            }
            let w = BAR_W as f64 * n as f64 / total;
            let (x0, x1) = (x.round() as i32, (x + w).round() as i32);
            let c = fate_colour(fate, s.transport);
            area.draw(&Rectangle::new(
                [(x0, top + 2), (x1, top + ROW_H as i32 - 6)],
                c.filled(),
            ))?;
            let label = format!("{n} {}", fate_word(fate));
            if text_width(&label, SMALL) + 8.0 <= w {
                let ink = if fate == FateKind::Late { BLACK } else { WHITE };
                area.draw(&Text::new(
                    label,
                    ((x0 + x1) / 2, middle),
                    font(SMALL)
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))?;
            } else {
                untold.push(label);
            }
            x += w;
        }
        let mut after = format!("{} messages", s.messages.len());
        for label in untold {
            after.push_str(&format!(", {label}"));
        }
        for (n, what) in [
            (
                s.messages.iter().filter(|m| m.duplicated).count(),
                "duplicated",
            ),
            (
                s.messages.iter().filter(|m| m.reordered).count(),
                "reordered",
            ),
        ] {
            if n > 0 {
                after.push_str(&format!("; {n} {what}"));
            }
        }
        area.draw(&Text::new(
            after,
            (BAR_X + BAR_W + 12, middle),
            font(SMALL).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// One row under the panels, for what they show: the panels stay clear.
fn draw_legend(area: &Area<'_>, series: &[Series]) -> Drawn {
    let mut items: Vec<(Mark, String)> = series
        .iter()
        .filter(|s| answered(s).next().is_some())
        .map(|s| {
            (
                Mark::Answered(s.transport),
                format!("{} answered", s.transport),
            )
        })
        .collect();
    let all = || series.iter().flat_map(|s| &s.messages);
    if all().any(|m| m.rtt_ms.is_none()) {
        items.push((Mark::Timeout, "client's timeout".into()));
    }
    for fate in UNANSWERED {
        if all().any(|m| m.fate == fate) {
            let what = match fate {
                FateKind::Late => "late (reply after the timeout)",
                FateKind::Lost => "lost (no reply)",
                FateKind::Failed => "not sent",
                _ => "interrupted (Ctrl-C)",
            };
            items.push((Mark::Unanswered(fate), what.into()));
        }
    }
    if all().any(|m| m.duplicated) {
        items.push((Mark::Duplicated, "reply duplicated".into()));
    }
    let y = LEGEND_H as i32 / 2;
    let mut x = 24;
    for (mark, text) in items {
        draw_marker(area, mark, (x, y), 4)?;
        area.draw(&Text::new(
            text.clone(),
            (x + 14, y),
            font(SMALL).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += 14 + text_width(&text, SMALL) as i32 + 20;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
