//! Latency by percentile: x is 1/(1-p) on a log scale, labelled as
//! percentiles; y is latency on a log scale in human units.

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{err, latency_label, COLORS};

/// Right end of the percentile axis: 99.9999%.
const X_MAX: f64 = 1e6;

/// `(1/(1-q), value in µs)` points of `h`'s percentile spectrum, ending at
/// the right edge with the largest value (what 100 % stands for).
pub fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = h
        .iter_quantiles(5)
        .map(|v| {
            let q = v.quantile_iterated_to();
            let x = if q >= 1.0 - 1.0 / X_MAX {
                X_MAX
            } else {
                1.0 / (1.0 - q)
            };
            (x, (v.value_iterated_to() as f64 / 1000.0).max(1e-3))
        })
        .collect();
    if !h.is_empty() && points.last().is_some_and(|p| p.0 < X_MAX) {
        points.push((X_MAX, (h.max() as f64 / 1000.0).max(1e-3)));
    }
    points
}

/// The percentile an x position stands for: `50%`, `99.99%`.
pub fn percentile_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    if p < 99.0 {
        format!("{p:.0}%")
    } else {
        let s = format!("{p:.6}");
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// Most labels on a log latency axis before it keeps only the decades.
const MAX_TICKS: usize = 12;

/// Where to label a log latency axis over `lo..hi` (µs): 1, 2 and 5 of
/// each decade (50 ms, 100 ms, 200 ms, 500 ms, 1 s, 2 s), only the
/// decades where that would crowd it, every digit where it would leave
/// fewer than three.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo) {
        return Vec::new();
    }
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let pick = |steps: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|e| steps.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let ticks = pick(&[1.0, 2.0, 5.0]);
    if ticks.len() > MAX_TICKS {
        pick(&[1.0])
    } else if ticks.len() < 3 {
        pick(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    } else {
        ticks
    }
}

/// Draws the spectra of `series` on `area`, one scale for all.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &[(String, &Histogram<u64>)],
) -> Result<(), String> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(name, h)| (name.as_str(), spectrum(h)))
        .collect();
    let values = || lines.iter().flat_map(|(_, pts)| pts.iter().map(|p| p.1));
    let y_max = values().fold(1.0_f64, f64::max) * 2.0;
    let y_min = values().fold(y_max, f64::min).max(1e-3) / 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption("latency by percentile", ("sans-serif", 18))
        .margin(12)
        .margin_right(48)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (1.0..X_MAX).log_scale(),
            // Labelled where plotters would only label the decades.
            (y_min..y_max)
                .log_scale()
                .with_key_points(log_ticks(y_min, y_max)),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency")
        .x_label_formatter(&percentile_label)
        .y_label_formatter(&latency_label)
        .draw()
        .map_err(err)?;
    for (i, (name, pts)) in lines.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
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
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::log_ticks;

    #[test]
    fn log_axes_get_readable_ticks() {
        // 25 ms .. 4.8 s, in µs.
        let t = log_ticks(25e3, 4.8e6);
        assert_eq!(t, [50e3, 100e3, 200e3, 500e3, 1e6, 2e6]);
        // Seven decades: only the decades.
        assert_eq!(log_ticks(1.0, 1e7).len(), 8);
        // Inside one step: every digit.
        assert_eq!(log_ticks(1.05e3, 4.5e3), [2e3, 3e3, 4e3]);
        assert!(log_ticks(0.0, 1.0).is_empty());
    }
}
