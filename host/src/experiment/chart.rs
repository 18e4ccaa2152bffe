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
    pub transport: Transport,
    pub messages: Vec<Message>,
}

/// One message, as the chart draws it.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    /// Milliseconds from the experiment's start to the send: its place on
    /// the time axis.
    pub sent_at_ms: f64,
    pub fate: FateKind,
    /// Its RTT in ms, when answered.
    pub rtt_ms: Option<f64>,
    /// How long its client waited for each reply: the height at which a
    /// message without an answer is marked.
    pub timeout_ms: f64,
    pub duplicated: bool,
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
mod tests {
    use super::*;

    fn message(sent_at_ms: f64, fate: FateKind, rtt_ms: Option<f64>, timeout_ms: f64) -> Message {
        Message {
            sent_at_ms,
            fate,
            rtt_ms,
            timeout_ms,
            duplicated: false,
            reordered: false,
        }
    }

    fn answered_at(transport: Transport, rtts: &[f64], timeout_ms: f64) -> Series {
        let messages = rtts
            .iter()
            .enumerate()
            .map(|(i, &rtt)| message(i as f64 * 10.0, FateKind::Answered, Some(rtt), timeout_ms))
            .collect();
        Series {
            transport,
            messages,
        }
    }

    fn chart(series: Vec<Series>) -> Chart {
        Chart {
            title: "a test".into(),
            links: vec!["udp-client→udp-server both: loss 30% (timeout 100ms)".into()],
            lessons: vec!["UDP: 2 of 5 replies lost, 3 answered".into()],
            series,
        }
    }

    fn svg(chart: &Chart) -> String {
        render_svg(chart).unwrap()
    }

    /// How many times `needle` occurs in `svg`.
    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    /// The text of every `<text>` element.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .map(|t| {
                t.split_once('>')
                    .unwrap()
                    .1
                    .split("</text>")
                    .next()
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .collect()
    }

    /// UDP answers 3 and loses `lost`; TCP answers 2 and cannot send `failed`.
    fn lossy(lost: usize, failed: usize) -> Chart {
        let mut udp = answered_at(Transport::Udp, &[0.2, 0.3, 0.25], 100.0);
        for i in 0..lost {
            udp.messages.push(message(
                100.0 + i as f64 * 100.0,
                FateKind::Lost,
                None,
                100.0,
            ));
        }
        let mut tcp = answered_at(Transport::Tcp, &[0.3, 0.4], 2000.0);
        for i in 0..failed {
            tcp.messages.push(message(
                50.0 + i as f64 * 60.0,
                FateKind::Failed,
                None,
                2000.0,
            ));
        }
        chart(vec![udp, tcp])
    }

    #[test]
    fn chart_marks_lost_and_failed_messages() {
        let cross = format!("stroke=\"{}\"", hex(LOST));
        let square = format!(
            "width=\"8\" height=\"8\" opacity=\"1\" fill=\"{}\"",
            hex(FAILED)
        );
        let few = svg(&lossy(1, 1));
        let more = svg(&lossy(3, 4));
        // A cross (two lines) per lost message, a square per failed one,
        // beside the legend's.
        assert_eq!(count(&more, &cross) - count(&few, &cross), 2 * 2, "{more}");
        assert_eq!(count(&more, &square) - count(&few, &square), 3, "{more}");
        let texts = texts(&more);
        for said in [
            "3 lost",
            "4 not sent",
            "lost (no reply)",
            "not sent",
            "UDP timeout",
            "TCP timeout",
            "100 ms",
            "2 s",
        ] {
            assert!(texts.iter().any(|t| t == said), "no {said:?} in {texts:?}");
        }
    }

    #[test]
    fn chart_counts_the_marks_piled_on_one_spot() {
        // Every message after a reset fails at once.
        let mut tcp = answered_at(Transport::Tcp, &[2.5, 2.7], 2000.0);
        for _ in 0..12 {
            tcp.messages
                .push(message(430.0, FateKind::Failed, None, 2000.0));
        }
        let texts = texts(&svg(&chart(vec![tcp])));
        // In the bar, and beside the pile.
        let said = texts.iter().filter(|t| *t == "12 not sent").count();
        assert_eq!(said, 2, "{texts:?}");
    }

    #[test]
    fn chart_marks_late_duplicated_and_interrupted_messages() {
        let mut udp = answered_at(Transport::Udp, &[0.2, 0.3], 40.0);
        udp.messages[1].duplicated = true;
        for i in 0..3 {
            let mut late = message(30.0 + 50.0 * i as f64, FateKind::Late, None, 40.0);
            late.duplicated = i == 0;
            udp.messages.push(late);
        }
        udp.messages
            .push(message(200.0, FateKind::Interrupted, None, 40.0));
        let svg = svg(&chart(vec![udp]));
        let texts = texts(&svg);
        for said in [
            "late (reply after the timeout)",
            "interrupted (Ctrl-C)",
            "reply duplicated",
            "6 messages; 2 duplicated",
        ] {
            assert!(texts.iter().any(|t| t == said), "no {said:?} in {texts:?}");
        }
        // Each beside its legend's: a triangle per late message, a ring
        // per duplicated one, a grey circle per interrupted one.
        let late = format!("<polygon opacity=\"1\" fill=\"{}\"", hex(LATE));
        assert_eq!(count(&svg, &late), 3 + 1, "{svg}");
        assert_eq!(count(&svg, "r=\"7\""), 2 + 1, "{svg}");
        let interrupted = format!("stroke=\"{}\"", hex(INTERRUPTED));
        assert_eq!(count(&svg, &interrupted), 1 + 1, "{svg}");
    }

    #[test]
    fn chart_rtt_axis_is_log_when_rtts_differ_tenfold() {
        let far = chart(vec![
            answered_at(Transport::Udp, &[0.1, 0.2, 0.3, 0.4, 0.5], 100.0),
            answered_at(Transport::Tcp, &[200.0, 600.0, 1400.0, 6200.0], 10_000.0),
        ]);
        let svg = svg(&far);
        let texts = texts(&svg);
        assert!(texts.iter().any(|t| t == "RTT (log scale)"), "{texts:?}");
        for tick in ["0.1 ms", "1 ms", "10 ms", "100 ms", "1 s"] {
            assert!(
                texts.iter().any(|t| t == tick),
                "no tick {tick:?} in {texts:?}"
            );
        }
        assert!(!svg.contains(".0<") && !svg.contains("6000"), "{texts:?}");
        // Log-spaced bins: UDP's five RTTs fall in bars of their own
        // instead of one bar beside TCP's seconds.
        let udp_bars = format!("opacity=\"0.85\" fill=\"{}\"", hex(colour(Transport::Udp)));
        let bars = svg
            .lines()
            .filter(|l| l.starts_with("<rect") && l.contains(&udp_bars))
            .count();
        assert!(bars >= 4, "{bars} UDP bars in {svg}");

        let near = chart(vec![
            answered_at(Transport::Udp, &[1.0, 1.2], 100.0),
            answered_at(Transport::Tcp, &[1.5, 2.0], 100.0),
        ]);
        let texts = super::tests::texts(&super::tests::svg(&near));
        assert!(!texts.iter().any(|t| t.contains("log scale")), "{texts:?}");
        assert!(texts.iter().any(|t| t == "RTT"), "{texts:?}");
    }

    #[test]
    fn chart_caption_says_the_impairments_and_the_lessons() {
        let mut c = lossy(2, 0);
        c.lessons
            .push("TCP: 2 of 2 answered, p99 RTT about UDP's (0.40 ms)".into());
        let svg = svg(&c);
        let texts = texts(&svg);
        for said in [
            "udp-client→udp-server both: loss 30% (timeout 100ms)",
            "UDP: 2 of 5 replies lost, 3 answered",
            "TCP: 2 of 2 answered, p99 RTT about UDP&apos;s (0.40 ms)",
        ] {
            assert!(texts.iter().any(|t| t == said), "no {said:?} in {texts:?}");
        }
        // Only fonts every renderer has.
        assert_eq!(
            count(&svg, "font-family=\"sans-serif\""),
            count(&svg, "font-family="),
            "{svg}"
        );
        // A lesson too long for one line goes on over several.
        c.lessons = vec![["a long lesson"; 40].join(" ")];
        let texts = super::tests::texts(&super::tests::svg(&c));
        assert!(
            texts
                .iter()
                .filter(|t| t.starts_with("a long lesson"))
                .count()
                >= 2,
            "{texts:?}"
        );
    }

    #[test]
    fn chart_of_a_run_with_nothing_answered_says_so() {
        let udp = Series {
            transport: Transport::Udp,
            messages: (0..4)
                .map(|i| message(i as f64 * 50.0, FateKind::Lost, None, 50.0))
                .collect(),
        };
        let svg = svg(&chart(vec![udp]));
        let texts = texts(&svg);
        assert!(
            texts
                .iter()
                .any(|t| t == "No message was answered: there is no RTT to plot."),
            "{texts:?}"
        );
        assert!(texts.iter().any(|t| t == "4 lost"), "{texts:?}");
        assert!(
            !texts.iter().any(|t| t.contains("RTT over time")),
            "{texts:?}"
        );

        let texts = super::tests::texts(&super::tests::svg(&chart(Vec::new())));
        assert!(
            texts
                .iter()
                .any(|t| t == "No message was sent: there is no RTT to plot."),
            "{texts:?}"
        );
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }
}
