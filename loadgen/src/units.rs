//! Numbers for people: latencies with a fitting unit, counts and rates
//! with a k/M suffix, per-second rates. Used by every layer (the progress
//! line, the tables, the sweep).

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

/// A count or rate with a k/M suffix (`106.8k`, `1.20M`, `950`).
pub fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// `n / secs`, 0 for an empty window.
pub fn per_sec(n: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        n / secs
    } else {
        0.0
    }
}
