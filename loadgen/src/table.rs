//! Human-readable rendering of a [`Report`].

use std::fmt::Write;

use crate::histo::Summary;
use crate::report::Report;

/// A latency in µs with a fitting unit.
pub fn fmt_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.0} us")
    }
}

fn latency_row(out: &mut String, name: &str, s: &Summary) {
    let _ = writeln!(
        out,
        "  {name:<12}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        fmt_us(s.p50),
        fmt_us(s.p90),
        fmt_us(s.p99),
        fmt_us(s.p999),
        fmt_us(s.p9999),
        fmt_us(s.max),
        fmt_us(s.mean)
    );
}

/// Renders the report as an aligned text table.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let c = &r.connections;
    let _ = writeln!(
        out,
        "loadgen: {} mode, {} B messages, {} connections, {} threads, pipeline {}, {:.2} s measured",
        r.mode, r.size, c.asked, r.threads, r.pipeline, r.duration_s
    );
    let _ = writeln!(
        out,
        "connections   asked {}  established {}  open at end {}",
        c.asked, c.established, c.open_at_end
    );
    let _ = writeln!(
        out,
        "connect time  p50 {}  p99 {}  max {}",
        fmt_us(c.connect_us.p50),
        fmt_us(c.connect_us.p99),
        fmt_us(c.connect_us.max)
    );
    if !c.sources.is_empty() {
        let per: Vec<String> = c
            .sources
            .iter()
            .map(|s| format!("{}={}", s.addr, s.established))
            .collect();
        let _ = writeln!(out, "sources       {}", per.join(" "));
    }
    let _ = writeln!(
        out,
        "throughput    {:.0} msg/s  {:.2} MB/s  ({} messages, {:.1} MB verified)",
        r.messages_per_sec,
        r.mb_per_sec,
        r.messages,
        r.bytes as f64 / 1e6
    );
    if let Some(asked) = r.rate.asked {
        let verdict = if r.rate.sustained == Some(true) {
            "sustained"
        } else {
            "NOT sustained"
        };
        let _ = writeln!(
            out,
            "rate          asked {asked:.0} msg/s  achieved {:.0} msg/s  ({verdict})",
            r.rate.achieved
        );
    }
    let _ = writeln!(
        out,
        "latency       {:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
    );
    match &r.latency_uncorrected_us {
        Some(unc) => {
            latency_row(&mut out, "corrected", &r.latency_us);
            latency_row(&mut out, "uncorrected", unc);
        }
        None => latency_row(&mut out, "", &r.latency_us),
    }
    let errors = r.errors.summary();
    let _ = writeln!(
        out,
        "errors        {}",
        if errors.is_empty() { "none" } else { &errors }
    );
    let _ = writeln!(
        out,
        "loadgen cpu   user {:.2} s  sys {:.2} s  ({:.0}% of one core)",
        r.cpu.user_s, r.cpu.sys_s, r.cpu.percent
    );
    for note in &r.notes {
        let _ = writeln!(out, "note          {note}");
    }
    if r.ok() {
        let what = if r.mode == "idle" {
            "every connection held open"
        } else {
            "every echoed byte verified"
        };
        let _ = writeln!(out, "result        OK: {what}");
    } else {
        for p in &r.problems {
            let _ = writeln!(out, "FAILED        {p}");
        }
    }
    out
}
