//! Which options apply to which protocol (or need which other option): an
//! option typed where it would do nothing is refused, naming the flag and
//! what it applies to, instead of being accepted and ignored.
//!
//! A new option that applies to some protocols only needs one line in
//! [`ONLY`].

use crate::cli::{Cli, Protocol};
use crate::settings::{Origin, Settings};

/// Where an option does something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `--protocol pubsub`, over lines or WebSocket.
    Pubsub,
    /// Protocols that read lines: `line-echo`, and `pubsub` without
    /// `--websocket`.
    Lines,
    /// Protocols over WebSocket: `ws-echo` and `pubsub --websocket`.
    WebSocket,
    /// Only with `--keepalive`.
    Keepalive,
    /// Only with `--proxy-protocol`.
    ProxyProtocol,
    /// Only with `--ws-deflate`.
    Deflate,
}

impl Scope {
    /// Whether an option of this scope does something for `cli`.
    fn applies(self, cli: &Cli) -> bool {
        match self {
            Self::Pubsub => cli.protocol == Protocol::Pubsub,
            Self::Lines => {
                cli.protocol == Protocol::LineEcho
                    || (cli.protocol == Protocol::Pubsub && !cli.websocket)
            }
            Self::WebSocket => cli.speaks_websocket(),
            Self::Keepalive => cli.keepalive.0.is_some(),
            Self::ProxyProtocol => cli.proxy_protocol,
            Self::Deflate => cli.ws_deflate,
        }
    }

    /// Where it applies, in the words of the error message.
    fn describe(self) -> &'static str {
        match self {
            Self::Pubsub => "--protocol pubsub only",
            Self::Lines => "--protocol line-echo and pubsub (without --websocket) only",
            Self::WebSocket => "WebSocket protocols only (--protocol ws-echo, pubsub --websocket)",
            Self::Keepalive => "--keepalive only",
            Self::ProxyProtocol => "--proxy-protocol only",
            Self::Deflate => "--ws-deflate only",
        }
    }
}

/// `(argument id, flag, where it applies)` for every option that does not
/// apply everywhere. The id is the `Cli` field's name.
pub const ONLY: &[(&str, &str, Scope)] = &[
    ("websocket", "--websocket", Scope::Pubsub),
    ("backplane", "--backplane", Scope::Pubsub),
    ("backplane_resend", "--backplane-resend", Scope::Pubsub),
    (
        "backplane_subscribe",
        "--backplane-subscribe",
        Scope::Pubsub,
    ),
    ("history", "--history", Scope::Pubsub),
    ("history_max_age", "--history-max-age", Scope::Pubsub),
    ("history_topics", "--history-topics", Scope::Pubsub),
    ("max_subscriptions", "--max-subscriptions", Scope::Pubsub),
    ("slow_subscribers", "--slow-subscribers", Scope::Pubsub),
    ("fanout_credit", "--fanout-credit", Scope::Pubsub),
    (
        "auth_jwt_secret_file",
        "--auth-jwt-secret-file",
        Scope::Pubsub,
    ),
    (
        "auth_jwt_public_key",
        "--auth-jwt-public-key",
        Scope::Pubsub,
    ),
    ("auth_timeout", "--auth-timeout", Scope::Pubsub),
    ("publish_rate", "--publish-rate", Scope::Pubsub),
    ("publish_burst", "--publish-burst", Scope::Pubsub),
    ("max_line", "--max-line", Scope::Lines),
    ("ws_max_message", "--ws-max-message", Scope::WebSocket),
    ("ws_ping_interval", "--ws-ping-interval", Scope::WebSocket),
    ("ws_pong_timeout", "--ws-pong-timeout", Scope::WebSocket),
    (
        "ws_handshake_timeout",
        "--ws-handshake-timeout",
        Scope::WebSocket,
    ),
    ("ws_allowed_origin", "--ws-allowed-origin", Scope::WebSocket),
    ("ws_deflate", "--ws-deflate", Scope::WebSocket),
    ("ws_deflate_level", "--ws-deflate-level", Scope::Deflate),
    (
        "ws_deflate_window_bits",
        "--ws-deflate-window-bits",
        Scope::Deflate,
    ),
    (
        "ws_deflate_min_size",
        "--ws-deflate-min-size",
        Scope::Deflate,
    ),
    (
        "ws_deflate_context_takeover",
        "--ws-deflate-context-takeover",
        Scope::Deflate,
    ),
    (
        "keepalive_interval",
        "--keepalive-interval",
        Scope::Keepalive,
    ),
    ("keepalive_count", "--keepalive-count", Scope::Keepalive),
    ("proxy_timeout", "--proxy-timeout", Scope::ProxyProtocol),
];

/// Refuses the first option given (typed, or set by the environment or
/// the configuration file: `settings`) that does nothing for the server
/// `cli` describes.
///
/// # Errors
///
/// A message naming the flag (and the variable or file line that set it),
/// what it applies to, and the protocol chosen.
pub fn check(cli: &Cli, settings: &Settings) -> Result<(), String> {
    for &(id, flag, scope) in ONLY {
        let Some(setting) = settings.get(id) else {
            continue;
        };
        if !scope.applies(cli) {
            let refused = refusal(cli, flag, scope);
            return Err(match &setting.origin {
                Origin::Flag => refused,
                origin => format!("{origin}: {refused}"),
            });
        }
    }
    Ok(())
}

/// The error for `flag`, which applies to `scope` only.
fn refusal(cli: &Cli, flag: &str, scope: Scope) -> String {
    let protocol = clap::ValueEnum::to_possible_value(&cli.protocol)
        .map_or_else(String::new, |value| value.get_name().to_owned());
    let chosen = match scope {
        Scope::Keepalive | Scope::ProxyProtocol => "it is not on".to_owned(),
        _ if cli.websocket && flag != "--websocket" => {
            format!("not --protocol {protocol} --websocket")
        }
        _ => format!("not --protocol {protocol}"),
    };
    let hint = match (scope, cli.protocol) {
        (Scope::Pubsub, Protocol::WsEcho) if flag == "--websocket" => {
            " (ws-echo is WebSocket already)"
        }
        (Scope::WebSocket, Protocol::Pubsub) => " (add --websocket)",
        _ => "",
    };
    format!("{flag} works with {}, {chosen}{hint}", scope.describe())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `check` on these arguments (after the program name).
    fn checked(args: &[&str]) -> Result<(), String> {
        let args = std::iter::once("esockets").chain(args.iter().copied());
        let sources =
            crate::options::Sources::new(args.map(Into::into).collect()).expect("arguments parse");
        let options = sources.read().expect("options");
        check(&options.cli, &options.settings)
    }

    #[test]
    fn every_option_in_the_table_exists() {
        let command = Cli::command();
        for (id, flag, _) in ONLY {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id() == *id)
                .unwrap_or_else(|| panic!("no argument {id}"));
            assert_eq!(arg.get_long(), Some(flag.trim_start_matches("--")), "{id}");
        }
    }

    #[test]
    fn options_for_other_protocols_are_refused_by_name() {
        let err = checked(&["--backplane", "redis://127.0.0.1:6379"]).expect_err("echo");
        assert_eq!(
            err,
            "--backplane works with --protocol pubsub only, not --protocol echo"
        );
        let err = checked(&["--ws-allowed-origin", "https://a.example"]).expect_err("echo");
        assert!(
            err.starts_with("--ws-allowed-origin works with WebSocket"),
            "{err}"
        );
        let err = checked(&["-p", "pubsub", "--ws-ping-interval", "5s"]).expect_err("lines");
        assert!(err.ends_with("(add --websocket)"), "{err}");
        let err = checked(&["-p", "pubsub", "--websocket", "--max-line", "1KiB"]).expect_err("ws");
        assert!(err.contains("not --protocol pubsub --websocket"), "{err}");
        let err = checked(&["--keepalive-count", "3"]).expect_err("no keepalive");
        assert!(err.contains("--keepalive only, it is not on"), "{err}");
        let err = checked(&["-p", "ws-echo", "--websocket"]).expect_err("ws-echo");
        assert!(err.contains("ws-echo is WebSocket already"), "{err}");
    }

    #[test]
    fn options_that_apply_and_defaults_pass() {
        checked(&[]).expect("defaults");
        checked(&[
            "-p",
            "pubsub",
            "--backplane",
            "redis://x:1",
            "--max-line",
            "1KiB",
        ])
        .expect("pubsub");
        checked(&["-p", "ws-echo", "--ws-allowed-origin", "https://a.example"]).expect("ws");
        checked(&["-p", "line-echo", "--max-line", "16"]).expect("lines");
        checked(&["--keepalive", "60s", "--keepalive-count", "3"]).expect("keepalive");
    }
}
