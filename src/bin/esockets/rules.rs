//! The pubsub rules the options describe: authentication (a key from a
//! file or the environment, never the command line) and the publish rate.

use std::sync::Arc;

use esockets::protocols::pubsub::auth::{JwtAuthorizer, KeyKind, KeySource, Keys, Place};
use esockets::protocols::pubsub::{Auth, PublishRate, Rules};

use crate::cli::Cli;
use crate::reload::Running;

/// The environment variable holding an HS256 secret.
pub const SECRET_ENV: &str = "ESOCKETS_AUTH_JWT_SECRET";
/// The environment variable holding a PEM public key.
pub const PUBLIC_KEY_ENV: &str = "ESOCKETS_AUTH_JWT_PUBLIC_KEY";

/// The rules for `--protocol pubsub`, with the keys they check tokens
/// with (for a reload), if any.
///
/// # Errors
///
/// A message naming the key that could not be loaded, and why.
pub fn rules(cli: &Cli) -> Result<(Rules, Option<Arc<Keys>>), String> {
    let keys = match key_source(cli) {
        Some((flag, source)) => Some(Arc::new(
            Keys::load(source).map_err(|err| format!("{flag}: {err}"))?,
        )),
        None => None,
    };
    let auth = keys.as_ref().map(|keys| Auth {
        authorizer: Arc::new(JwtAuthorizer::new(Arc::clone(keys))),
        timeout: cli.auth_timeout,
    });
    let publish_rate = cli.publish_rate.map(|per_second| PublishRate {
        per_second,
        burst: cli
            .publish_burst
            .unwrap_or_else(|| per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32)
            .max(1),
    });
    let rules = Rules {
        max_subscriptions: cli.max_subscriptions,
        auth,
        publish_rate,
    };
    Ok((rules, keys))
}

/// Where the key comes from, and the flag (or variable) that said so.
fn key_source(cli: &Cli) -> Option<(String, KeySource)> {
    let file = |kind, path: &std::path::PathBuf, flag: &str| {
        let place = Place::File(path.clone());
        Some((flag.to_owned(), KeySource { kind, place }))
    };
    let env = |kind, name: &str| {
        std::env::var_os(name).map(|_| {
            let place = Place::Env(name.to_owned());
            (name.to_owned(), KeySource { kind, place })
        })
    };
    if let Some(path) = &cli.auth_jwt_secret_file {
        file(KeyKind::Secret, path, "--auth-jwt-secret-file")
    } else if let Some(path) = &cli.auth_jwt_public_key {
        file(KeyKind::PublicKey, path, "--auth-jwt-public-key")
    } else {
        env(KeyKind::Secret, SECRET_ENV).or_else(|| env(KeyKind::PublicKey, PUBLIC_KEY_ENV))
    }
}

/// Parses a rate: `100`, `100/s`, `0.5/s`; more than zero.
///
/// # Errors
///
/// What was expected.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let number = text.trim().strip_suffix("/s").unwrap_or(text.trim());
    match number.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "expected publishes per second above 0 (100 or 100/s), got '{text}'"
        )),
    }
}

/// The options the reload hook of the token keys covers.
pub const RELOADED: &[&str] = &["auth-jwt-secret-file", "auth-jwt-public-key"];

/// The reload hook of [`RELOADED`]: re-reads the key (from its file or
/// variable, changed contents or not) for new tokens; clients already
/// authenticated keep their grant.
///
/// # Errors
///
/// The key cannot be loaded (the one in force stays), or authentication
/// turned on, off, or to another place, which needs a restart.
pub fn reload(new: &Cli, running: &Running) -> Result<(), String> {
    match (&running.keys, key_source(new)) {
        (None, None) => Ok(()),
        (Some(keys), Some((flag, source))) if &source == keys.source() => {
            keys.reload().map_err(|err| format!("{flag}: {err}"))
        }
        (Some(_), Some((flag, _))) => Err(format!(
            "{flag}: a key from another place or of another kind needs a restart"
        )),
        (None, Some(_)) => Err("authentication cannot be turned on without a restart".into()),
        (Some(_), None) => Err("authentication cannot be turned off without a restart".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("100/s"), Ok(100.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("-3").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("inf").is_err());
    }
}
