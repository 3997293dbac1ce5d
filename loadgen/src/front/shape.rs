//! The traffic shape beyond one kind of client: connection lifetimes
//! (churn) and groups of clients that behave differently (idle, slow
//! readers, ordinary senders). Pure parsing and arithmetic, no sockets.

use std::time::Duration;

use serde::Serialize;

/// Read rate of the `slow` group when `--read-rate` is not given (B/s).
pub const DEFAULT_SLOW_READ_RATE: u64 = 1000;

/// What the connections of a group do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Hold the connection, check it stays open, send nothing.
    Idle,
    /// Send and verify echoes (at `read_rate` when given).
    Active,
}

/// One group of connections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Name, as given in `--mix` (or `all`, `idle`, `active`).
    pub name: String,
    /// Connections in the group.
    pub connections: u64,
    /// What they do.
    pub kind: GroupKind,
    /// Bytes per second each connection reads at most; `None`: unlimited.
    pub read_rate: Option<u64>,
}

/// Parses `DUR` or `DUR..DUR` (`1s..5s`) into a lifetime range.
pub fn parse_lifetime(text: &str) -> Result<(Duration, Duration), String> {
    let parse =
        |s: &str| humantime::parse_duration(s.trim()).map_err(|e| format!("'{}': {e}", s.trim()));
    let (lo, hi) = match text.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let d = parse(text)?;
            (d, d)
        }
    };
    if lo.is_zero() {
        return Err("a lifetime must be more than 0".into());
    }
    if hi < lo {
        return Err(format!("range '{text}' runs backwards"));
    }
    Ok((lo, hi))
}

/// Splits `total` connections into groups by `shares` (percent or
/// fractions, any positive weights), exactly: largest remainders get the
/// leftover connections.
pub fn split_counts(total: u64, shares: &[f64]) -> Vec<u64> {
    let sum: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| total as f64 * s / sum).collect();
    let mut counts: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let mut left = total - counts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra)
    });
    for i in order {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

/// The groups of a run from `--mix`, `--idle-fraction` and `--read-rate`.
pub fn groups(
    total: u64,
    mix: Option<&str>,
    idle_fraction: Option<f64>,
    read_rate: Option<u64>,
    all_idle: bool,
) -> Result<Vec<Group>, String> {
    let named: Vec<(String, f64)> = match (mix, idle_fraction) {
        (Some(spec), _) => parse_mix(spec)?,
        (None, Some(f)) => {
            if !(0.0..=1.0).contains(&f) {
                return Err("--idle-fraction must be between 0 and 1".into());
            }
            vec![("idle".into(), f), ("active".into(), 1.0 - f)]
        }
        (None, None) => vec![("all".into(), 1.0)],
    };
    let counts = split_counts(total, &named.iter().map(|(_, s)| *s).collect::<Vec<_>>());
    Ok(named
        .into_iter()
        .zip(counts)
        .map(|((name, _), connections)| {
            let kind = if all_idle || name == "idle" {
                GroupKind::Idle
            } else {
                GroupKind::Active
            };
            let rate = match name.as_str() {
                "slow" => Some(read_rate.unwrap_or(DEFAULT_SLOW_READ_RATE)),
                _ if mix.is_some() => None,
                _ => read_rate,
            };
            Group {
                name,
                connections,
                kind,
                read_rate: (kind == GroupKind::Active).then_some(rate).flatten(),
            }
        })
        .collect())
}

/// Parses `NAME:PERCENT,...`.
fn parse_mix(spec: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for item in spec.split(',').map(str::trim) {
        let (name, share) = item
            .split_once(':')
            .ok_or_else(|| format!("'{item}' is not NAME:PERCENT"))?;
        let name = name.trim();
        let share: f64 = share
            .trim()
            .trim_end_matches('%')
            .parse()
            .map_err(|_| format!("'{item}': the share is not a number"))?;
        if name.is_empty() || !(share.is_finite() && share >= 0.0) {
            return Err(format!("'{item}': needs a name and a share of at least 0"));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("group '{name}' appears twice"));
        }
        out.push((name.to_string(), share));
    }
    if out.iter().map(|(_, s)| s).sum::<f64>() <= 0.0 {
        return Err("the shares add up to 0".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse() {
        let s = Duration::from_secs;
        assert_eq!(parse_lifetime("2s").unwrap(), (s(2), s(2)));
        assert_eq!(parse_lifetime("1s..5s").unwrap(), (s(1), s(5)));
        assert!(parse_lifetime("5s..1s").is_err());
        assert!(parse_lifetime("0s").is_err());
        assert!(parse_lifetime("soon").is_err());
    }

    #[test]
    fn counts_add_up_exactly() {
        assert_eq!(split_counts(1000, &[90.0, 9.0, 1.0]), vec![900, 90, 10]);
        assert_eq!(split_counts(10, &[1.0, 1.0, 1.0]).iter().sum::<u64>(), 10);
        assert_eq!(split_counts(3, &[0.5, 0.5]).iter().sum::<u64>(), 3);
    }

    #[test]
    fn mix_makes_groups() {
        let g = groups(100, Some("idle:90,slow:9,heavy:1"), None, None, false).unwrap();
        let names: Vec<&str> = g.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["idle", "slow", "heavy"]);
        assert_eq!(g[0].kind, GroupKind::Idle);
        assert_eq!(g[1].read_rate, Some(DEFAULT_SLOW_READ_RATE));
        assert_eq!(g[2].read_rate, None);
        assert_eq!(g.iter().map(|g| g.connections).sum::<u64>(), 100);
        assert!(groups(10, Some("a"), None, None, false).is_err());
        assert!(groups(10, Some("a:1,a:2"), None, None, false).is_err());
        let f = groups(10, None, Some(0.8), Some(500), false).unwrap();
        assert_eq!((f[0].connections, f[1].connections), (8, 2));
        assert_eq!(f[1].read_rate, Some(500));
    }
}
