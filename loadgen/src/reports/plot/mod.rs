//! SVG charts (plotters), with human units on every axis (µs/ms/s, k/M):
//! latency by percentile (HdrHistogram style: x is 1/(1-p) on a log
//! scale, labelled as percentiles), beside it the run second by second,
//! several runs on one scale (`loadgen plot`), and the sweep's throughput
//! and p99 by thread count.

mod spectrum;
mod sweep;
mod timeline;

pub use spectrum::{percentile_label, spectrum};
pub use sweep::{sweep_chart, SweepPoint};

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::engine::timeline::TimelinePoint;

/// Line colours, in series order.
const COLORS: [RGBColor; 6] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Chart height in pixels.
const HEIGHT: u32 = 560;
/// Width of one panel.
const PANEL_WIDTH: u32 = 900;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Axis label of a latency in µs: `250 µs`, `1.5 ms`, `2 s`.
pub fn latency_label(us: &f64) -> String {
    let us = *us;
    let trim = |v: f64| {
        let s = format!("{v:.1}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if us == 0.0 {
        "0".to_string()
    } else if us >= 1e6 {
        format!("{} s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else if us >= 1.0 {
        format!("{} µs", trim(us))
    } else {
        format!("{} ns", trim(us * 1e3))
    }
}

/// Axis label of a count or rate: `950`, `20k`, `1.2M`.
pub fn count_label(v: &f64) -> String {
    let v = *v;
    let trim = |x: f64| {
        let s = format!("{x:.1}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if v.abs() >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v.abs() >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

/// Draws latency by percentile of each `(name, histogram)` into `path`,
/// all on one scale; with a non-empty `timeline`, the run second by
/// second is drawn beside it.
pub fn latency_chart(
    path: &Path,
    title: &str,
    series: &[(String, &Histogram<u64>)],
    timeline: &[TimelinePoint],
) -> Result<(), String> {
    let width = if timeline.is_empty() {
        PANEL_WIDTH
    } else {
        2 * PANEL_WIDTH
    };
    let root = SVGBackend::new(path, (width, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(err)?;
    if timeline.is_empty() {
        spectrum::draw(&root, series)?;
    } else {
        let (left, right) = root.split_horizontally(PANEL_WIDTH);
        spectrum::draw(&left, series)?;
        timeline::draw(&right, timeline)?;
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::histo::new_histogram;

    #[test]
    fn labels_have_units() {
        assert_eq!(latency_label(&250.0), "250 µs");
        assert_eq!(latency_label(&0.0), "0");
        assert_eq!(latency_label(&1500.0), "1.5 ms");
        assert_eq!(latency_label(&1_000_000.0), "1 s");
        assert_eq!(count_label(&20_000.0), "20k");
        assert_eq!(count_label(&1_200_000.0), "1.2M");
        assert_eq!(percentile_label(&2.0), "50%");
        assert_eq!(percentile_label(&1000.0), "99.9%");
    }

    #[test]
    fn a_latency_axis_up_to_seconds_is_labelled_to_be_read() {
        let dir = std::env::temp_dir().join(format!("loadgen-ticks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut h = new_histogram();
        // 50 ms .. 2.4 s (ns).
        for v in 50..=2400u64 {
            h.saturating_record(v * 1_000_000);
        }
        let file = dir.join("seconds.svg");
        latency_chart(&file, "test", &[("a".to_string(), &h)], &[]).unwrap();
        let svg = std::fs::read_to_string(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(svg.contains("1 s\n"), "labels as the other tests read them");
        for label in ["50 ms", "100 ms", "200 ms", "500 ms", "1 s", "2 s"] {
            assert!(svg.contains(&format!("{label}\n")), "no {label} tick");
        }
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
        let points: Vec<TimelinePoint> = (0..5)
            .map(|t| TimelinePoint::new(t as f64, 1.0, (1000, 0, 10, 0), &h))
            .collect();
        latency_chart(&file, "test", &[("a".to_string(), &h)], &points).unwrap();
        let svg = std::fs::read_to_string(&file).unwrap();
        assert!(svg.contains("99.9%"), "percentile labels");
        assert!(
            svg.contains("1 ms\n") && svg.contains("µs\n"),
            "human units"
        );
        assert!(!svg.contains("1000000"), "no raw microseconds");
        assert!(svg.contains("seconds"), "a timeline beside the spectrum");
        let file = dir.join("sweep.svg");
        let spread = |m: f64| crate::reports::spread::Spread {
            median: m,
            min: m * 0.9,
            max: m * 1.1,
        };
        let pts = [
            SweepPoint {
                threads: 1,
                series: None,
                msgs_per_sec: spread(10_000.0),
                p99_us: Some(5.0),
            },
            SweepPoint {
                threads: 2,
                series: None,
                msgs_per_sec: spread(18_000.0),
                p99_us: Some(6.0),
            },
        ];
        sweep_chart(&file, "sweep", &pts).unwrap();
        let svg = std::fs::read_to_string(&file).unwrap();
        assert!(svg.contains("server threads"));
        assert!(!svg.contains("1.5\n"), "whole thread counts only");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
