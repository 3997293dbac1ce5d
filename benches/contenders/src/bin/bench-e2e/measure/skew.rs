//! The skewed workload: a few heavy clients among many light ones, two
//! loadgen runs at once against one server, both open loop (so a light
//! client's latency shows how long it waits behind the heavy ones on its
//! shard). Reports throughput, the light and heavy clients' p99, and how
//! evenly the shards carried the load: each shard's CPU time over the
//! measured window and its messages, with max / mean.

use std::thread;
use std::time::Duration;

use serde_json::json;

use super::{join_notes, Measured};
use crate::cli::format_duration;
use crate::contender::Contender;
use crate::env::Env;
use crate::loadgen::{self, Metrics};
use crate::server::Server;
use crate::workload::{Skew, SKEW_SIZE};

/// Time loadgen may need beyond warm-up and duration.
const SLACK: Duration = Duration::from_secs(120);

/// Thread name of an esockets shard, as `/proc` shows it: the kernel keeps
/// 15 bytes of `esockets-shard-N`, so the shards are told apart by thread
/// id (they are started in index order).
const SHARD_COMM: &str = "esockets-shard-";

/// Runs the skewed workload once against a fresh `contender`.
pub fn measure(
    env: &Env,
    contender: &Contender,
    skew: Skew,
    tag: &str,
) -> Result<Measured, String> {
    let server = Server::start(env, contender, env.cli.threads, None, tag)?;
    let pid = server.pid();
    // Per connection: light clients send `per_light`, heavy ones
    // `factor` times that, adding up to the asked rate.
    let units = skew.light + skew.heavy * skew.factor;
    let per_light = env.cli.rate as f64 / units as f64;
    let args = |connections: usize, rate: f64| {
        vec![
            "--mode".to_owned(),
            "echo".to_owned(),
            "--connections".to_owned(),
            connections.to_string(),
            "--size".to_owned(),
            SKEW_SIZE.to_string(),
            "--rate".to_owned(),
            format!("{rate:.1}"),
            "--threads".to_owned(),
            env.cli.client_threads.to_string(),
            "--duration".to_owned(),
            format_duration(env.cli.duration),
            "--warmup".to_owned(),
            format_duration(env.cli.warmup),
        ]
    };
    let light_rate = per_light * skew.light as f64;
    let heavy_rate = per_light * (skew.heavy * skew.factor) as f64;
    let outcome = (|| {
        let mut light = loadgen::spawn(
            env,
            server.addr,
            &args(skew.light, light_rate),
            &format!("{tag}.light"),
        )?;
        let mut heavy = loadgen::spawn(
            env,
            server.addr,
            &args(skew.heavy, heavy_rate),
            &format!("{tag}.heavy"),
        )?;
        // CPU time over the measured window only (connecting and warm-up
        // left out): both runs started together.
        thread::sleep(env.cli.warmup);
        let before = shard_cpu(pid);
        thread::sleep(env.cli.duration);
        let after = shard_cpu(pid);
        let timeout = SLACK;
        let wait = |running: &mut loadgen::Running| -> Result<serde_json::Value, String> {
            running
                .guard
                .wait_for(timeout)?
                .ok_or_else(|| format!("loadgen did not finish within {timeout:?}"))?;
            loadgen::read_report(&running.json)
        };
        let light_report = wait(&mut light)?;
        let heavy_report = wait(&mut heavy)?;
        Ok::<_, String>((light_report, heavy_report, before, after))
    })();
    let log = env.file(&format!("{tag}.server.log"));
    let stopped = server.stop();
    let (light, heavy, before, after) = outcome?;
    let mut metrics = Metrics::new();
    let light_m = loadgen::metrics(&light);
    let heavy_m = loadgen::metrics(&heavy);
    let get = |m: &Metrics, k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    metrics.insert(
        "msgs_per_sec".into(),
        get(&light_m, "msgs_per_sec") + get(&heavy_m, "msgs_per_sec"),
    );
    metrics.insert("light_p99_us".into(), get(&light_m, "p99_us"));
    metrics.insert("heavy_p99_us".into(), get(&heavy_m, "p99_us"));
    metrics.insert(
        "errors".into(),
        get(&light_m, "errors") + get(&heavy_m, "errors"),
    );
    let cpu: Vec<f64> = match (&before, &after) {
        (Some(b), Some(a)) if a.len() == b.len() => {
            a.iter().zip(b).map(|(a, b)| (a - b).max(0.0)).collect()
        }
        _ => Vec::new(),
    };
    if let Some(ratio) = max_over_mean(&cpu) {
        metrics.insert("cpu_max_over_mean".into(), ratio);
    }
    let messages = shard_messages(&log);
    if let Some(ratio) = max_over_mean(&messages) {
        metrics.insert("msgs_max_over_mean".into(), ratio);
    }
    let raw = json!({
        "light": light,
        "heavy": heavy,
        "shard_cpu_seconds": cpu,
        "shard_messages": messages,
        "light_rate": light_rate,
        "heavy_rate": heavy_rate,
    });
    let note = (cpu.is_empty() && contender.binary.starts_with("esockets"))
        .then(|| "no per-shard CPU times found".to_owned());
    Ok(Measured {
        metrics,
        raw,
        note: join_notes(note, stopped.err()),
    })
}

/// Max over mean of `values`: 1.0 is perfectly even; `None` when empty or
/// all zero.
pub fn max_over_mean(values: &[f64]) -> Option<f64> {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let max = values.iter().copied().fold(f64::NAN, f64::max);
    (mean > 0.0).then(|| max / mean)
}

/// CPU seconds (user + system) of each esockets shard thread of `pid`, in
/// shard order; `None` if `/proc` cannot be read.
fn shard_cpu(pid: u32) -> Option<Vec<f64>> {
    let ticks = clock_ticks();
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut shards: Vec<(u32, f64)> = Vec::new();
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((comm, seconds)) = parse_stat(&stat, ticks) {
            if comm == SHARD_COMM {
                shards.push((tid, seconds));
            }
        }
    }
    shards.sort_by_key(|(tid, _)| *tid);
    Some(shards.into_iter().map(|(_, s)| s).collect())
}

/// `(comm, utime + stime in seconds)` of one `/proc/.../stat` line.
pub fn parse_stat(stat: &str, ticks: f64) -> Option<(&str, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    // After ")": state is field 3; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / ticks))
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// Messages each shard read, from the per-shard counters esockets logs at
/// shutdown (`shard N ... bytes_in=B`); empty for other servers.
pub fn shard_messages(log: &std::path::Path) -> Vec<f64> {
    let Ok(text) = std::fs::read_to_string(log) else {
        return Vec::new();
    };
    let mut shards: Vec<(usize, f64)> = text
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find(" shard ")? + " shard ".len()..];
            let index: usize = rest.split_whitespace().next()?.parse().ok()?;
            let bytes: f64 = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("bytes_in="))?
                .parse()
                .ok()?;
            Some((index, bytes / SKEW_SIZE as f64))
        })
        .collect();
    shards.sort_by_key(|(index, _)| *index);
    shards.dedup_by_key(|(index, _)| *index);
    shards.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_name_and_cpu_seconds() {
        let line = "4242 (esockets-shard-) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(parse_stat(line, 100.0), Some(("esockets-shard-", 3.0)));
        let odd = "7 (a) b) R 1 2 3 4 5 6 7 8 9 10 1 1 0 0";
        assert_eq!(parse_stat(odd, 100.0), Some(("a) b", 0.02)));
    }

    #[test]
    fn even_load_is_one_and_skew_shows() {
        assert_eq!(max_over_mean(&[2.0, 2.0]), Some(1.0));
        assert_eq!(max_over_mean(&[3.0, 1.0]), Some(1.5));
        assert_eq!(max_over_mean(&[]), None);
    }

    #[test]
    fn per_shard_messages_come_from_the_shutdown_counters() {
        let dir = std::env::temp_dir().join(format!("skew-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("server.log");
        std::fs::write(
            &log,
            "2026-12-01T00:00:00Z  INFO shard 1 accepted=5 bytes_in=6400 bytes_out=6400\n\
             2026-12-01T00:00:00Z  INFO shard 0 accepted=5 bytes_in=640 bytes_out=640\n\
             2026-12-01T00:00:00Z  INFO total accepted=10 bytes_in=7040\n",
        )
        .unwrap();
        assert_eq!(shard_messages(&log), vec![10.0, 100.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
