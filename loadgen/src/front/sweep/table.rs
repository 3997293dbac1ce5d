//! The sweep's comparison table: one row per swept setting (thread count,
//! and balance mode when swept), the range columns only with repeats.

use std::fmt::Write;

use super::SweepRun;
use crate::units::{fmt_rate, fmt_us};

/// The comparison table of `runs`, `repeat` runs each: the range columns
/// only with repeats (one run has no range), the balance column only when
/// modes were swept.
pub fn table(runs: &[SweepRun], repeat: usize) -> String {
    let ranges = repeat > 1;
    let balances = runs.iter().any(|r| r.balance.is_some());
    let mut out = String::new();
    let mut line = |cells: [&str; 7]| {
        let [threads, balance, rate, range, p99, p99_range, errors] = cells;
        let mut text = format!("{threads:>8}");
        if balances {
            let _ = write!(text, " {balance:>13}");
        }
        let _ = write!(text, " {rate:>10}");
        if ranges {
            let _ = write!(text, " {range:>20}");
        }
        let _ = write!(text, " {p99:>10}");
        if ranges {
            let _ = write!(text, " {p99_range:>10}");
        }
        let _ = writeln!(out, "{text} {errors:>8}");
    };
    line([
        "threads",
        "balance",
        "msgs/s",
        "range",
        "p99",
        "p99 range",
        "errors",
    ]);
    for r in runs {
        let (m, p) = (&r.messages_per_sec, &r.p99_us);
        let range = format!(
            "{}-{} ({:.0}%)",
            fmt_rate(m.min),
            fmt_rate(m.max),
            m.range_percent()
        );
        let p_range = p
            .as_ref()
            .map_or_else(String::new, |p| format!("{:.0}%", p.range_percent()));
        let p99 = p
            .as_ref()
            .map_or_else(|| "n/a".to_owned(), |p| fmt_us(p.median));
        line([
            &r.threads.to_string(),
            r.balance.as_deref().unwrap_or(""),
            &fmt_rate(m.median),
            &range,
            &p99,
            &p_range,
            &r.errors.to_string(),
        ]);
    }
    if ranges {
        let _ = writeln!(
            out,
            "(medians of {repeat} runs per setting, run in alternation)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::spread::Spread;

    fn point(threads: usize, balance: Option<&str>, rates: &[f64], p99s: &[f64]) -> SweepRun {
        SweepRun {
            threads,
            balance: balance.map(str::to_owned),
            messages_per_sec: Spread::of(rates).unwrap(),
            p99_us: Spread::of(p99s),
            errors: 0,
            reports: Vec::new(),
        }
    }

    #[test]
    fn the_table_shows_ranges_only_when_there_are_repeats() {
        let once = table(&[point(1, None, &[1000.0], &[50.0])], 1);
        let header = once.lines().next().unwrap();
        assert!(!header.contains("range"), "{once}");
        assert_eq!(
            header.split_whitespace().collect::<Vec<_>>(),
            ["threads", "msgs/s", "p99", "errors"],
            "{once}"
        );
        assert!(!once.contains("medians"), "{once}");
        let row = once.lines().nth(1).unwrap();
        assert_eq!(row.len(), header.len(), "{once}");
        assert!(!row.contains(&" ".repeat(12)), "no empty columns: {once}");
        let twice = table(&[point(1, None, &[900.0, 1100.0], &[40.0, 60.0])], 2);
        let header = twice.lines().next().unwrap();
        assert!(
            header.contains(" range") && header.contains("p99 range"),
            "{twice}"
        );
        assert!(
            twice.contains("(20%)") && twice.contains("medians of 2 runs"),
            "{twice}"
        );
    }

    #[test]
    fn the_table_names_the_balance_mode_when_swept() {
        let t = table(
            &[
                point(2, Some("reuseport"), &[1000.0], &[50.0]),
                point(2, Some("cpu"), &[1100.0], &[40.0]),
            ],
            1,
        );
        let header: Vec<&str> = t.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["threads", "balance", "msgs/s", "p99", "errors"]);
        assert!(t.lines().nth(2).unwrap().contains(" cpu "), "{t}");
    }
}
