//! Human-readable rendering of a [`Report`]. Unknown values print `n/a`.

use std::fmt::Write;

use crate::engine::histo::Summary;
use crate::reports::report::Report;
use crate::units::{fmt_rate, fmt_us};

/// Text for a value that is not known.
pub const NA: &str = "n/a";

fn opt_us(v: Option<f64>) -> String {
    v.map_or_else(|| NA.to_string(), fmt_us)
}

fn latency_row(out: &mut String, name: &str, s: Option<&Summary>) {
    let Some(s) = s else {
        let _ = writeln!(out, "  {name:<12}{NA:>10}");
        return;
    };
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

fn header(out: &mut String, r: &Report) {
    let c = &r.connections;
    let opt = |v: Option<usize>| v.map_or_else(|| NA.to_string(), |v| v.to_string());
    let transport = r
        .shape
        .websocket
        .as_ref()
        .map_or(String::new(), |kind| format!(" over WebSocket ({kind})"));
    let _ = writeln!(
        out,
        "loadgen: {} mode{transport}, {} B messages, {} connections, {} threads, pipeline {}, {:.2} s measured",
        r.mode,
        opt(r.size),
        c.asked,
        r.threads,
        opt(r.pipeline),
        r.duration_s
    );
    let targets: Vec<&str> = r.targets.iter().map(|t| t.addr.as_str()).collect();
    if !targets.is_empty() {
        let started = r.started_at.as_deref().unwrap_or(NA);
        let _ = writeln!(
            out,
            "target        {}  (started {started})",
            targets.join(" ")
        );
    }
    let _ = writeln!(
        out,
        "connections   asked {}  established {}  open at end {}",
        c.asked, c.established, c.open_at_end
    );
    let _ = writeln!(
        out,
        "connect time  p50 {}  p99 {}  max {}",
        opt_us(c.connect_us.map(|s| s.p50)),
        opt_us(c.connect_us.map(|s| s.p99)),
        opt_us(c.connect_us.map(|s| s.max))
    );
    if !c.sources.is_empty() {
        let per: Vec<String> = c
            .sources
            .iter()
            .map(|s| format!("{}={}", s.addr, s.established))
            .collect();
        let _ = writeln!(out, "sources       {}", per.join(" "));
    }
}

fn shapes(out: &mut String, r: &Report) {
    if let Some(ch) = &r.churn {
        let _ = writeln!(
            out,
            "churn         asked {:.0}/s  achieved {:.0} connects/s  ({} connects, {} closes)  \
             connect p50 {}  p99 {}  max {}",
            ch.asked_per_sec,
            ch.connects_per_sec,
            ch.connects,
            ch.closes,
            opt_us(ch.connect_us.map(|s| s.p50)),
            opt_us(ch.connect_us.map(|s| s.p99)),
            opt_us(ch.connect_us.map(|s| s.max))
        );
        let failed = ch.failed.summary();
        if !failed.is_empty() {
            let _ = writeln!(out, "  failed      {failed}");
        }
    }
    if let Some(rc) = &r.reconnect {
        let failed = rc.failed.summary();
        let _ = writeln!(
            out,
            "reconnect     {} disconnects  {} reconnects  downtime {:.2} connection-s  \
             longest outage {}  failed attempts {}",
            rc.disconnects,
            rc.reconnects,
            rc.downtime_s,
            fmt_us(rc.longest_outage_s * 1e6),
            if failed.is_empty() { "none" } else { &failed }
        );
    }
    if r.targets.len() > 1 {
        for t in &r.targets {
            let _ = writeln!(
                out,
                "  target {:<21} {} conns  {} established  {} msg/s  {} errors",
                t.addr,
                t.connections,
                t.established,
                fmt_rate(t.messages_per_sec),
                t.errors
            );
        }
    }
    if r.groups.len() > 1 {
        for g in &r.groups {
            let rate = g
                .group
                .read_rate
                .map_or(String::new(), |b| format!(" (read-rate {b} B/s)"));
            let _ = writeln!(
                out,
                "  group {:<10} {:>6} conns{rate}  {} open  {} msg/s  {:.0} B/s per conn  p99 {}  {} errors",
                g.group.name,
                g.group.connections,
                g.open_at_end,
                fmt_rate(g.messages_per_sec),
                g.bytes_per_sec_per_connection,
                opt_us(g.latency_us.map(|l| l.p99)),
                g.errors
            );
        }
    }
}

/// Renders the report as an aligned text table.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    header(&mut out, r);
    let mb = r
        .mb_per_sec
        .map_or_else(|| NA.to_string(), |m| format!("{m:.2}"));
    let verified = r
        .bytes
        .map_or_else(|| NA.to_string(), |b| format!("{:.1}", b as f64 / 1e6));
    match &r.pubsub {
        Some(p) => p.render(&mut out),
        None => {
            let _ = writeln!(
                out,
                "throughput    {:.0} msg/s  {mb} MB/s  ({} messages, {verified} MB verified)",
                r.messages_per_sec, r.messages
            );
        }
    }
    if let Some(tls) = &r.tls {
        tls.render(&mut out);
    }
    if let Some(asked) = r.rate.asked {
        let verdict = if r.rate.sustained == Some(true) {
            "sustained"
        } else {
            "NOT sustained"
        };
        let unit = if r.is_pubsub() {
            "publishes/s"
        } else {
            "msg/s"
        };
        let _ = writeln!(
            out,
            "rate          asked {asked:.0} {unit}  achieved {:.0} {unit}  ({verdict})",
            r.rate.achieved
        );
    }
    if let Some(p) = &r.pacing {
        let _ = writeln!(
            out,
            "pacing        sends late against the schedule: p50 {}  p99 {}  max {}",
            fmt_us(p.lag_us.p50),
            fmt_us(p.lag_us.p99),
            fmt_us(p.lag_us.max)
        );
    }
    shapes(&mut out, r);
    let _ = writeln!(
        out,
        "latency       {:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean"
    );
    match (&r.latency_uncorrected_us, r.rate.asked) {
        (Some(unc), _) => {
            latency_row(&mut out, "corrected", r.latency_us.as_ref());
            latency_row(&mut out, "uncorrected", Some(unc));
        }
        (None, Some(_)) => {
            latency_row(&mut out, "corrected", r.latency_us.as_ref());
            latency_row(&mut out, "uncorrected", None);
        }
        (None, None) => latency_row(&mut out, "", r.latency_us.as_ref()),
    }
    let errors = r.errors.summary();
    let _ = writeln!(
        out,
        "errors        {}",
        if errors.is_empty() { "none" } else { &errors }
    );
    match &r.cpu {
        Some(cpu) => {
            let per = cpu
                .us_per_message
                .map_or(String::new(), |u| format!(", {u:.2} us per message"));
            let _ = writeln!(
                out,
                "loadgen cpu   user {:.2} s  sys {:.2} s  ({:.0}% of one core{per})",
                cpu.user_s, cpu.sys_s, cpu.percent
            );
        }
        None => {
            let _ = writeln!(out, "loadgen cpu   {NA}");
        }
    }
    for note in &r.notes {
        let _ = writeln!(out, "note          {note}");
    }
    if r.ok() {
        let what = if r.mode == "idle" {
            "every connection held open"
        } else if r.pubsub.as_ref().is_some_and(|p| p.verify_every > 1) {
            "every delivery to a verified subscriber checked (none duplicated or out of \
             order), every other one counted: none lost"
        } else if r.is_pubsub() {
            "every delivery verified: none lost, duplicated or out of order"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_well() {
        assert_eq!(fmt_us(850.0), "850 us");
        assert_eq!(fmt_us(1500.0), "1.50 ms");
        assert_eq!(fmt_us(2_500_000.0), "2.50 s");
        assert_eq!(fmt_rate(950.0), "950");
        assert_eq!(fmt_rate(106_785.0), "106.8k");
        assert_eq!(fmt_rate(1_200_000.0), "1.20M");
    }
}
