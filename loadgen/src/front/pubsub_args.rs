//! The `--mode pubsub` options for servers that ask for tokens
//! (`--auth-jwt-secret-file` and the token's claims) and for the
//! reconnect-with-recovery shape (`--recover`), and their checked forms
//! ([`Minter`], [`Recovery`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::engine::token::Minter;
use crate::Failure;

/// How a subscriber that left subscribes again (`--recover`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoverMode {
    /// Subscribes with positions (`SUB t POS`) and comes back with `SUB t
    /// SINCE offset epoch`: every publish made while it was away must
    /// arrive, once, in order, before the live ones (the server needs
    /// `--history`).
    Since,
    /// Comes back with a plain `SUB t`: what was published while it was
    /// away is skipped (counted, not lost). The baseline without history.
    Plain,
}

/// The reconnect-with-recovery shape: each subscriber leaves (closes its
/// connection) every `every`, stays away `away`, then reconnects and
/// subscribes again while the publishers go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// How it subscribes again.
    pub mode: RecoverMode,
    /// Time between two leaves of one subscriber.
    pub every: Duration,
    /// Time away (shorter than `every`).
    pub away: Duration,
    /// All subscribers leave at the same instants (else their leaves are
    /// spread evenly over `every`).
    pub together: bool,
}

impl Recovery {
    /// When subscriber `s` of `subscribers` first leaves, after the start
    /// of the load.
    pub fn first_leave(&self, s: u64, subscribers: u64) -> Duration {
        if self.together {
            self.every
        } else {
            self.every
                .mul_f64((s % subscribers.max(1) + 1) as f64 / (subscribers + 1) as f64)
        }
    }
}

/// The environment variable that may hold the secret instead of a file.
pub const SECRET_ENV: &str = "LOADGEN_AUTH_JWT_SECRET";

/// How long a token is valid when `--token-ttl` is not given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Tokens and the recovery shape (`--mode pubsub`).
#[derive(Args, Debug, Clone)]
pub struct PubsubArgs {
    /// `--mode pubsub`: authenticate every connection with an HS256 JWT
    /// minted from the secret in FILE (one trailing line end is not part
    /// of it), sent as `AUTH token` before anything else (over --ws: the
    /// first message). The secret may instead be in the environment
    /// variable LOADGEN_AUTH_JWT_SECRET; never on the command line.
    #[arg(long, value_name = "FILE")]
    pub auth_jwt_secret_file: Option<PathBuf>,
    /// With tokens: each token's lifetime (its `exp`), from the connect
    /// it is minted for [default: 1h].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DUR")]
    pub token_ttl: Option<Duration>,
    /// With tokens: the `subs` patterns of every token, e.g. `lg.*`
    /// [default: `lg.*` for subscribers, none for publishers].
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub token_subs: Option<Vec<String>>,
    /// With tokens: the `pubs` patterns of every token [default: `lg.*`
    /// for publishers, none for subscribers].
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub token_pubs: Option<Vec<String>>,
    /// `--mode pubsub`: reconnect with recovery: every subscriber leaves
    /// every --recover-every, stays away --recover-away while the
    /// publishers go on, then comes back: `since` subscribes with `SUB t
    /// POS` and comes back with `SUB t SINCE offset epoch`, and every
    /// message published while it was away must arrive once, in order,
    /// before the live ones (the server needs --history); `plain` comes
    /// back with `SUB t` (the baseline: what it missed is skipped).
    #[arg(long, value_enum, value_name = "since|plain")]
    pub recover: Option<RecoverMode>,
    /// With --recover: time between two leaves of one subscriber.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, value_name = "DUR")]
    pub recover_every: Duration,
    /// With --recover: time each subscriber stays away.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration, value_name = "DUR")]
    pub recover_away: Duration,
    /// With --recover: all subscribers leave at once and come back at once
    /// (else their leaves are spread evenly over --recover-every).
    #[arg(long)]
    pub recover_together: bool,
    /// `--mode pubsub`: verify only every Nth subscriber (0, N, 2N, ...):
    /// its deliveries are checked (payload, once, in order) and timed;
    /// the others' are counted, so loadgen's own CPU is not the ceiling
    /// of a large fan-out. A counted subscriber's shortfall is still
    /// lost; a duplicate there can hide a loss. 1 checks every delivery.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub verify_every: u64,
}

impl PubsubArgs {
    /// Whether any of these options was given (they need `--mode pubsub`).
    pub fn given(&self) -> Option<&'static str> {
        [
            (
                self.auth_jwt_secret_file.is_some(),
                "--auth-jwt-secret-file",
            ),
            (self.token_ttl.is_some(), "--token-ttl"),
            (self.token_subs.is_some(), "--token-subs"),
            (self.token_pubs.is_some(), "--token-pubs"),
            (self.recover.is_some(), "--recover"),
            (self.recover_together, "--recover-together"),
            (self.verify_every != 1, "--verify-every"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    /// The token minter (`None` without a secret, in a file or the
    /// environment). An unreadable file or an empty secret is a usage
    /// error naming it.
    pub fn minter(&self) -> Result<Option<Arc<Minter>>, Failure> {
        let secret = match &self.auth_jwt_secret_file {
            Some(path) => std::fs::read(path).map_err(|e| {
                Failure::Usage(format!(
                    "--auth-jwt-secret-file: cannot read {}: {e}",
                    path.display()
                ))
            })?,
            None => match std::env::var_os(SECRET_ENV) {
                Some(value) => value.into_encoded_bytes(),
                None => {
                    let flags = [
                        (self.token_ttl.is_some(), "--token-ttl"),
                        (self.token_subs.is_some(), "--token-subs"),
                        (self.token_pubs.is_some(), "--token-pubs"),
                    ];
                    if let Some((_, flag)) = flags.iter().find(|(given, _)| *given) {
                        return Err(Failure::Usage(format!(
                            "{flag} needs a secret: --auth-jwt-secret-file or {SECRET_ENV}"
                        )));
                    }
                    return Ok(None);
                }
            },
        };
        let secret = trim_line_end(&secret);
        if secret.is_empty() {
            return Err(Failure::Usage(
                "--auth-jwt-secret-file: the secret is empty".into(),
            ));
        }
        let ttl = self.token_ttl.unwrap_or(DEFAULT_TTL);
        if ttl < Duration::from_secs(1) {
            return Err(Failure::Usage(
                "--token-ttl must be at least 1s (exp is in seconds)".into(),
            ));
        }
        Ok(Some(Arc::new(Minter::new(
            secret,
            ttl,
            self.token_subs.clone(),
            self.token_pubs.clone(),
        ))))
    }

    /// The recovery shape (`None` without `--recover`).
    pub fn recovery(&self) -> Result<Option<Recovery>, Failure> {
        let Some(mode) = self.recover else {
            if self.recover_together {
                return Err(Failure::Usage(
                    "--recover-together needs --recover since|plain".into(),
                ));
            }
            return Ok(None);
        };
        if self.recover_away.is_zero() || self.recover_away >= self.recover_every {
            return Err(Failure::Usage(format!(
                "--recover-away ({:?}) must be more than 0 and shorter than --recover-every ({:?})",
                self.recover_away, self.recover_every
            )));
        }
        Ok(Some(Recovery {
            mode,
            every: self.recover_every,
            away: self.recover_away,
            together: self.recover_together,
        }))
    }
}

/// `bytes` without one trailing `\n` or `\r\n` (what `echo` adds), as the
/// server reads its secret.
fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::{trim_line_end, Duration, RecoverMode, Recovery};

    #[test]
    fn leaves_are_spread_over_the_period_or_together() {
        let mut r = Recovery {
            mode: RecoverMode::Since,
            every: Duration::from_secs(4),
            away: Duration::from_secs(1),
            together: false,
        };
        let firsts: Vec<Duration> = (0..3).map(|s| r.first_leave(s, 3)).collect();
        assert_eq!(
            firsts,
            [1, 2, 3].map(Duration::from_secs),
            "one period, evenly"
        );
        r.together = true;
        assert_eq!(r.first_leave(2, 3), Duration::from_secs(4));
    }

    #[test]
    fn a_secret_loses_one_line_end() {
        assert_eq!(trim_line_end(b"abc\r\n"), b"abc");
        assert_eq!(trim_line_end(b"abc\n\n"), b"abc\n");
        assert_eq!(trim_line_end(b"abc"), b"abc");
    }
}
