//! The sweep chart: throughput (median, with the range of the repeats as
//! an error bar) and p99 by server thread count, on an axis of whole
//! thread counts.

use std::path::Path;

use plotters::prelude::*;

use super::{count_label, err, latency_label, COLORS, HEIGHT, PANEL_WIDTH};
use crate::sweep::Spread;

/// One point of a sweep chart.
#[derive(Debug, Clone, Copy)]
pub struct SweepPoint {
    /// Server threads.
    pub threads: usize,
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
    let (blue, red) = (COLORS[1], COLORS[0]);
    let tp: Vec<(i32, f64)> = points
        .iter()
        .map(|p| (p.threads as i32, p.msgs_per_sec.median))
        .collect();
    chart
        .draw_series(LineSeries::new(tp.clone(), blue.stroke_width(2)))
        .map_err(err)?
        .label("messages/s (median)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue));
    chart
        .draw_series(points.iter().map(|p| {
            ErrorBar::new_vertical(
                p.threads as i32,
                p.msgs_per_sec.min,
                p.msgs_per_sec.median,
                p.msgs_per_sec.max,
                blue.filled(),
                10,
            )
        }))
        .map_err(err)?;
    let lat: Vec<(i32, f64)> = points
        .iter()
        .filter_map(|p| p.p99_us.map(|l| (p.threads as i32, l)))
        .collect();
    chart
        .draw_secondary_series(LineSeries::new(lat.clone(), red.stroke_width(2)))
        .map_err(err)?
        .label("p99 latency (median)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red));
    chart
        .draw_secondary_series(lat.into_iter().map(|p| Circle::new(p, 4, red.filled())))
        .map_err(err)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
