//! The run second by second: above, throughput (left axis) and the p50,
//! p99 and max latency of each second (right axis); below, connections
//! open, errors and connects per second.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{count_label, err, latency_label, COLORS};
use crate::engine::timeline::TimelinePoint;

/// Share of the height for throughput and latency; the rest shows
/// connections and errors.
const TOP_SHARE: f64 = 0.68;

/// Draws `points` on `area`.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[TimelinePoint],
) -> Result<(), String> {
    if points.iter().all(|p| p.open.is_none()) {
        // Nothing recorded about connections (merged logs).
        return rates(area, points);
    }
    let height = area.dim_in_pixel().1 as f64;
    let (top, bottom) = area.split_vertically((height * TOP_SHARE) as u32);
    rates(&top, points)?;
    connections(&bottom, points)
}

/// Throughput and latency per second.
fn rates<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[TimelinePoint],
) -> Result<(), String> {
    let x_max = points
        .iter()
        .map(|p| p.t_s + p.length_s)
        .fold(1.0, f64::max);
    let rate_max = points
        .iter()
        .map(|p| p.messages_per_sec)
        .fold(1.0, f64::max)
        * 1.15;
    let lat = |f: fn(&TimelinePoint) -> Option<f64>| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter_map(|p| f(p).map(|v| (p.t_s + p.length_s / 2.0, v.max(1e-3))))
            .collect()
    };
    let series = [
        ("p50", lat(|p| p.p50_us)),
        ("p99", lat(|p| p.p99_us)),
        ("max", lat(|p| p.max_us)),
    ];
    // Linear, from zero: a stall stands out as a spike, and a narrow
    // range still gets several labels (a log axis over 200 ms..2 s has one).
    let l_max = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("second by second", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .right_y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, 0.0..rate_max)
        .map_err(err)?
        .set_secondary_coord(0.0..x_max, 0.0..l_max);
    chart
        .configure_mesh()
        .x_desc("seconds after warmup")
        .y_desc("messages/s")
        .y_label_formatter(&count_label)
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("latency in that second")
        .y_label_formatter(&latency_label)
        .draw()
        .map_err(err)?;
    let tp: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.t_s + p.length_s / 2.0, p.messages_per_sec))
        .collect();
    let black = BLACK.stroke_width(2);
    chart
        .draw_series(LineSeries::new(tp, black))
        .map_err(err)?
        .label("messages/s")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], black));
    for (i, (name, pts)) in series.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_secondary_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(err)
}

/// Connections open at the end of each second, errors and connects in it.
fn connections<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[TimelinePoint],
) -> Result<(), String> {
    let x_max = points
        .iter()
        .map(|p| p.t_s + p.length_s)
        .fold(1.0, f64::max);
    let mid = |p: &TimelinePoint| p.t_s + p.length_s / 2.0;
    type Pick = fn(&TimelinePoint) -> Option<u64>;
    type Line<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);
    let all: [(&str, Pick, RGBColor); 3] = [
        ("connections open", |p| p.open, BLACK),
        ("errors", |p| p.errors, COLORS[0]),
        ("connects", |p| p.connects, COLORS[2]),
    ];
    // Errors and connects only when there were any.
    let lines: Vec<Line> = all
        .iter()
        .enumerate()
        .filter(|(i, (_, pick, _))| {
            points
                .iter()
                .any(|p| pick(p).is_some_and(|v| *i == 0 || v > 0))
        })
        .map(|(_, (name, pick, color))| {
            let pts = points
                .iter()
                .filter_map(|p| pick(p).map(|v| (mid(p), v as f64)))
                .collect();
            (*name, pts, *color)
        })
        .collect();
    let y_max = lines
        .iter()
        .flat_map(|(_, pts, _)| pts.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max)
        * 1.2;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .right_y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds after warmup")
        .y_desc("per second / open")
        .y_label_formatter(&count_label)
        .y_labels(5)
        .draw()
        .map_err(err)?;
    for (name, pts, color) in lines {
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(err)
}
