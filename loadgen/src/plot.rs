//! SVG charts (plotters): latency by percentile, HdrHistogram style
//! (x axis: 1/(1-p) on a log scale, labelled as percentiles), and the
//! sweep's throughput and p99 by thread count.

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

/// Right end of the percentile axis: 99.9999%.
const X_MAX: f64 = 1e6;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `(1/(1-q), value in µs)` points of `h`'s percentile spectrum.
pub fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    h.iter_quantiles(5)
        .map(|v| {
            let q = v.quantile_iterated_to();
            let x = if q >= 1.0 - 1.0 / X_MAX {
                X_MAX
            } else {
                1.0 / (1.0 - q)
            };
            (x, (v.value_iterated_to() as f64 / 1000.0).max(1e-3))
        })
        .collect()
}

fn percentile_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    if p < 99.0 {
        format!("{p:.0}%")
    } else {
        let s = format!("{p:.6}");
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// Draws latency by percentile of each `(name, histogram)` into `path`.
pub fn latency_chart(
    path: &Path,
    title: &str,
    series: &[(&str, &Histogram<u64>)],
) -> Result<(), String> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(name, h)| (*name, spectrum(h)))
        .collect();
    let y_max = lines
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max)
        * 2.0;
    let y_min = lines
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(y_max, f64::min)
        .max(1e-3)
        / 2.0;
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..X_MAX).log_scale(), (y_min..y_max).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (us)")
        .x_label_formatter(&percentile_label)
        .draw()
        .map_err(err)?;
    let colors = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];
    for (i, (name, pts)) in lines.into_iter().enumerate() {
        let color = colors[i % colors.len()];
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
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// One point of a sweep chart.
#[derive(Debug, Clone, Copy)]
pub struct SweepPoint {
    /// Server threads.
    pub threads: usize,
    /// Messages per second.
    pub msgs_per_sec: f64,
    /// p99 latency (µs).
    pub p99_us: f64,
}

/// Draws throughput (left) and p99 (right) by server thread count.
pub fn sweep_chart(path: &Path, title: &str, points: &[SweepPoint]) -> Result<(), String> {
    let x_max = points.iter().map(|p| p.threads).max().unwrap_or(1) as f64 + 0.5;
    let t_max = points.iter().map(|p| p.msgs_per_sec).fold(1.0, f64::max) * 1.15;
    let l_max = points.iter().map(|p| p.p99_us).fold(1.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .right_y_label_area_size(80)
        .build_cartesian_2d(0.5..x_max, 0.0..t_max)
        .map_err(err)?
        .set_secondary_coord(0.5..x_max, 0.0..l_max);
    chart
        .configure_mesh()
        .x_desc("server threads")
        .y_desc("messages/s")
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("p99 (us)")
        .draw()
        .map_err(err)?;
    let tp: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.threads as f64, p.msgs_per_sec))
        .collect();
    let lat: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.threads as f64, p.p99_us))
        .collect();
    chart
        .draw_series(LineSeries::new(tp.clone(), BLUE.stroke_width(2)))
        .map_err(err)?
        .label("messages/s")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(tp.into_iter().map(|p| Circle::new(p, 4, BLUE.filled())))
        .map_err(err)?;
    chart
        .draw_secondary_series(LineSeries::new(lat.clone(), RED.stroke_width(2)))
        .map_err(err)?
        .label("p99 latency")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .draw_secondary_series(lat.into_iter().map(|p| Circle::new(p, 4, RED.filled())))
        .map_err(err)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histo::new_histogram;

    #[test]
    fn labels_read_as_percentiles() {
        assert_eq!(percentile_label(&2.0), "50%");
        assert_eq!(percentile_label(&1000.0), "99.9%");
    }

    #[test]
    fn charts_are_written() {
        let dir = std::env::temp_dir().join(format!("loadgen-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut h = new_histogram();
        for v in 1..10_000u64 {
            h.saturating_record(v * 100);
        }
        let file = dir.join("lat.svg");
        latency_chart(&file, "test", &[("a", &h)]).unwrap();
        let svg = std::fs::read_to_string(&file).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("99.9%"),
            "{}",
            &svg[..200]
        );
        let file = dir.join("sweep.svg");
        let pts = [
            SweepPoint {
                threads: 1,
                msgs_per_sec: 10.0,
                p99_us: 5.0,
            },
            SweepPoint {
                threads: 2,
                msgs_per_sec: 18.0,
                p99_us: 6.0,
            },
        ];
        sweep_chart(&file, "sweep", &pts).unwrap();
        assert!(std::fs::read_to_string(&file)
            .unwrap()
            .contains("server threads"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
