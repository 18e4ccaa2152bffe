//! The chart written beside a lab report: round-trip time over time (left)
//! and its histogram (right), one series per transport, as SVG.

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::roles::Transport;

/// One transport's answered messages: (ms since the experiment started,
/// RTT in ms).
pub struct Series {
    pub transport: Transport,
    pub points: Vec<(f64, f64)>,
}

/// Bars in the histogram.
const BINS: usize = 30;

fn colour(transport: Transport) -> RGBColor {
    match transport {
        Transport::Udp => RGBColor(0x1f, 0x77, 0xb4),
        Transport::Tcp => RGBColor(0xd6, 0x27, 0x28),
    }
}

/// The chart as SVG text.
pub fn render_svg(title: &str, series: &[Series]) -> Result<String> {
    let mut svg = String::new();
    draw(&mut svg, title, series).map_err(|e| anyhow!("cannot draw the chart: {e}"))?;
    Ok(svg)
}

fn draw(
    svg: &mut String,
    title: &str,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let root = SVGBackend::with_string(svg, (1200, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let (left, right) = root.split_horizontally(640);

    let points = || series.iter().flat_map(|s| s.points.iter());
    let t_max = points().map(|p| p.0).fold(0.0, f64::max).max(1.0);
    let rtt_max = points().map(|p| p.1).fold(0.0, f64::max).max(0.001) * 1.05;

    let mut over_time = ChartBuilder::on(&left)
        .caption("RTT over time", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..t_max * 1.02, 0.0..rtt_max)?;
    over_time
        .configure_mesh()
        .x_desc("time since start (ms)")
        .y_desc("RTT (ms)")
        .draw()?;
    for s in series {
        let c = colour(s.transport);
        over_time
            .draw_series(
                s.points
                    .iter()
                    .map(|&(t, rtt)| Circle::new((t, rtt), 2, c.filled())),
            )?
            .label(s.transport.to_string().to_uppercase())
            .legend(move |(x, y)| Circle::new((x, y), 4, c.filled()));
    }
    over_time
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;

    let width = rtt_max / BINS as f64;
    let counts: Vec<Vec<u32>> = series
        .iter()
        .map(|s| {
            let mut bins = vec![0u32; BINS];
            for &(_, rtt) in &s.points {
                bins[((rtt / width) as usize).min(BINS - 1)] += 1;
            }
            bins
        })
        .collect();
    let count_max = counts.iter().flatten().copied().max().unwrap_or(1).max(1);
    let mut histogram = ChartBuilder::on(&right)
        .caption("RTT histogram", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..rtt_max, 0u32..count_max + count_max / 10 + 1)?;
    histogram
        .configure_mesh()
        .x_desc("RTT (ms)")
        .y_desc("messages")
        .draw()?;
    let lanes = series.len().max(1) as f64;
    for (lane, (s, bins)) in series.iter().zip(&counts).enumerate() {
        let c = colour(s.transport);
        // Side by side within each bin, one lane per transport.
        let lane_width = width / lanes;
        histogram.draw_series(bins.iter().enumerate().filter(|(_, n)| **n > 0).map(
            |(i, &n)| {
                let x0 = i as f64 * width + lane as f64 * lane_width;
                Rectangle::new([(x0, 0), (x0 + lane_width * 0.9, n)], c.mix(0.8).filled())
            },
        ))?;
    }
    root.present()?;
    Ok(())
}
