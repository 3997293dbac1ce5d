//! The sweep chart: throughput (median, with the range of the repeats as
//! an error bar) and p99 by server thread count, on an axis of whole
//! thread counts; one pair of lines per balance mode when modes were
//! swept.

use std::path::Path;

use plotters::prelude::*;

use super::{count_label, err, latency_label, COLORS, HEIGHT, PANEL_WIDTH};
use crate::reports::spread::Spread;

/// One point of a sweep chart.
#[derive(Debug, Clone)]
pub struct SweepPoint {
    /// Server threads.
    pub threads: usize,
    /// The line it belongs to (a balance mode); `None`: the only one.
    pub series: Option<String>,
    /// Messages per second: median and range.
    pub msgs_per_sec: Spread,
    /// Median p99 latency (µs), if measured (no point drawn otherwise).
    pub p99_us: Option<f64>,
}

/// Draws throughput (left) and p99 (right) by server thread count.
pub fn sweep_chart(path: &Path, title: &str, points: &[SweepPoint]) -> Result<(), String> {
    let x_max = points.iter().map(|p| p.threads).max().unwrap_or(1) as i32 + 1;
    let t_max = points
        .iter()
        .map(|p| p.msgs_per_sec.max)
        .fold(1.0, f64::max)
        * 1.15;
    let l_max = points.iter().filter_map(|p| p.p99_us).fold(1.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (PANEL_WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .right_y_label_area_size(80)
        .build_cartesian_2d(0..x_max, 0.0..t_max)
        .map_err(err)?
        .set_secondary_coord(0..x_max, 0.0..l_max);
    chart
        .configure_mesh()
        .x_desc("server threads")
        .y_desc("messages/s")
        .x_labels((x_max + 1) as usize)
        .x_label_formatter(&|x| {
            if *x >= 1 {
                x.to_string()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&count_label)
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("p99")
        .y_label_formatter(&latency_label)
        .draw()
        .map_err(err)?;
    let mut names: Vec<Option<&str>> = Vec::new();
    for p in points {
        if !names.contains(&p.series.as_deref()) {
            names.push(p.series.as_deref());
        }
    }
    for (i, name) in names.into_iter().enumerate() {
        let line: Vec<&SweepPoint> = points
            .iter()
            .filter(|p| p.series.as_deref() == name)
            .collect();
        // One series: throughput blue, p99 red; several: a colour each,
        // throughput solid and p99 thin with dots.
        let (tcolor, lcolor) = match name {
            None => (COLORS[1], COLORS[0]),
            Some(_) => (COLORS[i % COLORS.len()], COLORS[i % COLORS.len()]),
        };
        let width = if name.is_none() { 2 } else { 1 };
        let suffix = name.map_or_else(String::new, |n| format!(", {n}"));
        let tp: Vec<(i32, f64)> = line
            .iter()
            .map(|p| (p.threads as i32, p.msgs_per_sec.median))
            .collect();
        chart
            .draw_series(LineSeries::new(tp, tcolor.stroke_width(2)))
            .map_err(err)?
            .label(format!("messages/s (median{suffix})"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], tcolor));
        chart
            .draw_series(line.iter().map(|p| {
                ErrorBar::new_vertical(
                    p.threads as i32,
                    p.msgs_per_sec.min,
                    p.msgs_per_sec.median,
                    p.msgs_per_sec.max,
                    tcolor.filled(),
                    10,
                )
            }))
            .map_err(err)?;
        let lat: Vec<(i32, f64)> = line
            .iter()
            .filter_map(|p| p.p99_us.map(|l| (p.threads as i32, l)))
            .collect();
        chart
            .draw_secondary_series(LineSeries::new(lat.clone(), lcolor.stroke_width(width)))
            .map_err(err)?
            .label(format!("p99 latency (median{suffix})"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], lcolor));
        chart
            .draw_secondary_series(lat.into_iter().map(|p| Circle::new(p, 4, lcolor.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
