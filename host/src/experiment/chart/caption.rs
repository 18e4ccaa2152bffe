//! The chart's caption: one line per link saying what its relay does to
//! each direction, then the report's lessons, wrapped to the chart's width.

use std::time::Duration;

use plotters::style::{BLACK, RGBColor};
use socklab_relay::{TcpImpairments, UdpImpairments};

use super::axis::short;
use super::{Chart, MUTED, SMALL, TEXT, WIDTH};
use crate::experiment::plan::Impairments;
use crate::limits::{show_duration, show_size};

/// One link node's line of the caption: `udp-client→udp-server both: loss
/// 30% (timeout 100ms)`, or each direction on its own when they differ
/// (`client→server: reset after 6KiB; server→client: stall 300ms after
/// 2KiB`).
pub fn link_caption(
    client: &str,
    server: &str,
    instances: u32,
    timeout_ms: u32,
    impairments: &Impairments,
) -> String {
    let (to_server, to_client) = match impairments {
        Impairments::Udp {
            to_server,
            to_client,
        } => (udp_text(to_server), udp_text(to_client)),
        Impairments::Tcp {
            to_server,
            to_client,
        } => (tcp_text(to_server), tcp_text(to_client)),
    };
    let copies = match instances {
        1 => String::new(),
        n => format!(" ({n} clients)"),
    };
    let (up, down) = (format!("{client}→{server}"), format!("{server}→{client}"));
    let what = match (to_server.is_empty(), to_client.is_empty()) {
        (true, true) => format!("{up}{copies}: no impairment"),
        _ if to_server == to_client => format!("{up}{copies} both: {to_server}"),
        (false, true) => format!("{up}{copies}: {to_server}"),
        (true, false) => format!("{down}{copies}: {to_client}"),
        (false, false) => format!("{up}{copies}: {to_server}; {down}: {to_client}"),
    };
    let timeout = show_duration(Duration::from_millis(timeout_ms.into()));
    format!("{what} (timeout {timeout})")
}

fn udp_text(i: &UdpImpairments) -> String {
    let mut parts = Vec::new();
    if i.loss > 0.0 {
        parts.push(format!("loss {}", percent(i.loss)));
    }
    if i.duplicate > 0.0 {
        parts.push(format!("duplicate {}", percent(i.duplicate)));
    }
    if i.reorder > 0.0 {
        let by = show_duration(i.reorder_delay);
        parts.push(format!("hold back {} by {by}", percent(i.reorder)));
    }
    delays(&mut parts, "delay", i.delay, i.jitter);
    if let Some(rate) = i.rate {
        parts.push(format!("rate {}/s", show_size(rate)));
    }
    if i.queue_limit != UdpImpairments::default().queue_limit {
        parts.push(format!("queue {}", i.queue_limit));
    }
    parts.join(", ")
}

fn tcp_text(i: &TcpImpairments) -> String {
    let mut parts = Vec::new();
    if i.loss > 0.0 {
        let rto = show_duration(i.rto);
        parts.push(format!("loss {}, rto {rto}", percent(i.loss)));
    }
    delays(&mut parts, "latency", i.latency, i.jitter);
    if let Some(rate) = i.bandwidth {
        parts.push(format!("bandwidth {}/s", show_size(rate)));
    }
    if let Some(slice) = i.slice {
        parts.push(format!("{slice}-byte segments"));
    }
    if let Some(after) = i.stall_after.filter(|_| !i.stall_for.is_zero()) {
        let stall = show_duration(i.stall_for);
        parts.push(format!("stall {stall} after {}", show_size(after)));
    }
    if let Some(after) = i.reset_after {
        parts.push(format!("reset after {}", show_size(after)));
    }
    parts.join(", ")
}

fn delays(parts: &mut Vec<String>, name: &str, delay: Duration, jitter: Duration) {
    if !delay.is_zero() {
        parts.push(format!("{name} {}", show_duration(delay)));
    }
    if !jitter.is_zero() {
        parts.push(format!("jitter {}", show_duration(jitter)));
    }
}

fn percent(p: f64) -> String {
    format!("{}%", short(p * 100.0))
}

/// A line of the caption.
pub(super) struct Line {
    pub text: String,
    pub size: f64,
    pub colour: RGBColor,
    /// The rest of a line that did not fit: indented.
    pub continued: bool,
}

/// The links' impairments, then the lessons, each wrapped to the width.
pub(super) fn caption_lines(chart: &Chart) -> Vec<Line> {
    let mut lines = Vec::new();
    for (texts, size, colour) in [(&chart.links, SMALL, MUTED), (&chart.lessons, TEXT, BLACK)] {
        for text in texts {
            for (i, part) in wrap(text, size, f64::from(WIDTH) - 60.0)
                .into_iter()
                .enumerate()
            {
                lines.push(Line {
                    text: part,
                    size,
                    colour,
                    continued: i > 0,
                });
            }
        }
    }
    lines
}

/// `text` cut at spaces into lines no wider than `width` px.
fn wrap(text: &str, size: f64, width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let longer = format!("{line} {word}");
        if !line.is_empty() && text_width(&longer, size) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// How wide `text` is drawn at `size`, a little on the wide side: the SVG
/// says `size / 1.24` px, and a sans-serif glyph is about 0.6 em wide.
pub(super) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size / 1.24 * 0.6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_caption_names_each_direction() {
        let lossy = UdpImpairments {
            loss: 0.3,
            ..UdpImpairments::default()
        };
        let both = Impairments::Udp {
            to_server: lossy.clone(),
            to_client: lossy,
        };
        assert_eq!(
            link_caption("udp-client", "udp-server", 1, 100, &both),
            "udp-client→udp-server both: loss 30% (timeout 100ms)"
        );
        let faults = Impairments::Tcp {
            to_server: TcpImpairments {
                bandwidth: Some(64 << 10),
                slice: Some(16),
                reset_after: Some(6 << 10),
                ..TcpImpairments::default()
            },
            to_client: TcpImpairments {
                stall_after: Some(2 << 10),
                stall_for: Duration::from_millis(300),
                ..TcpImpairments::default()
            },
        };
        assert_eq!(
            link_caption("client", "server", 1, 2000, &faults),
            "client→server: bandwidth 64KiB/s, 16-byte segments, reset after 6KiB; \
             server→client: stall 300ms after 2KiB (timeout 2s)"
        );
        let none = Impairments::Udp {
            to_server: UdpImpairments::default(),
            to_client: UdpImpairments::default(),
        };
        assert_eq!(
            link_caption("c", "s", 25, 200, &none),
            "c→s (25 clients): no impairment (timeout 200ms)"
        );
    }
}
