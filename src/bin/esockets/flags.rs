//! Which command-line flag sets which [`esockets::Config`] field, so that
//! configuration errors name what the user typed (`--low-water`), not the
//! library's field (`output_low_water`).
//!
//! A new `Config` field with a flag needs one line in [`FLAGS`].

use esockets::ConfigError;

/// `(Config field, flag)` for every field a flag sets.
pub const FLAGS: &[(&str, &str)] = &[
    ("bind", "--bind"),
    ("threads", "--threads"),
    ("pin_threads", "--no-pin"),
    ("backlog", "--backlog"),
    ("nodelay", "--no-nodelay"),
    ("read_budget", "--read-budget"),
    ("read_buffer", "--read-buffer"),
    ("output_high_water", "--high-water"),
    ("output_low_water", "--low-water"),
    ("output_limit", "--output-limit"),
    ("input_limit", "--input-limit"),
    ("close_timeout", "--close-timeout"),
    ("shutdown_grace", "--shutdown-grace"),
    ("reuseport_join", "--reuseport-join"),
    ("max_connections", "--max-connections"),
    ("refuse_message", "--refuse-message"),
    ("idle_timeout", "--idle-timeout"),
    ("keepalive", "--keepalive"),
    ("keepalive_interval", "--keepalive-interval"),
    ("keepalive_count", "--keepalive-count"),
    ("user_timeout", "--user-timeout"),
    // esockets::websocket::WsConfig
    ("max_message", "--ws-max-message"),
    ("ping_interval", "--ws-ping-interval"),
    ("pong_timeout", "--ws-pong-timeout"),
    ("handshake_timeout", "--ws-handshake-timeout"),
    ("allowed_origins", "--ws-allowed-origin"),
    ("deflate_level", "--ws-deflate-level"),
    ("deflate_max_window_bits", "--ws-deflate-window-bits"),
    ("stall_threshold", "--stall-threshold"),
    ("metrics", "--metrics"),
    ("slow_subscribers", "--slow-subscribers"),
    ("fanout_credit", "--fanout-credit"),
    ("backplane", "--backplane"),
    ("backplane_resend", "--backplane-resend"),
    ("backplane_subscribe", "--backplane-subscribe"),
    ("history", "--history-topics"),
    ("proxy_protocol", "--proxy-protocol"),
    ("proxy_trusted", "--proxy-trusted"),
    ("proxy_timeout", "--proxy-timeout"),
    ("balance", "--balance"),
];

/// The flag that sets `field`, or the field itself if no flag does.
pub fn flag_of(field: &str) -> &str {
    FLAGS
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(field, |(_, flag)| flag)
}

/// `err` as the command line's user should read it: every field name in
/// it (the one at fault, and any it is compared with) replaced by its flag.
pub fn describe(err: &ConfigError) -> String {
    let reason = err
        .reason
        .split_inclusive(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map(|piece| {
            let word = piece.trim_end_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            format!("{}{}", flag_of(word), &piece[word.len()..])
        })
        .collect::<String>();
    let flag = flag_of(err.field);
    // The library's `None` is the command line's `off`.
    let reason = reason.replace(
        "leave it unset to turn",
        &format!("type {flag} off to turn"),
    );
    format!("{flag} {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_flag_in_the_table_exists() {
        let command = crate::cli::Cli::command();
        for (field, flag) in FLAGS {
            let long = flag.trim_start_matches("--");
            assert!(
                command
                    .get_arguments()
                    .any(|arg| arg.get_long() == Some(long)),
                "{field}: no flag {flag}"
            );
        }
    }

    #[test]
    fn errors_name_flags_not_fields() {
        let err = ConfigError {
            field: "output_low_water",
            reason: "must be below output_high_water (262144 >= 1000)".into(),
        };
        assert_eq!(
            describe(&err),
            "--low-water must be below --high-water (262144 >= 1000)"
        );
    }

    #[test]
    fn off_is_how_the_command_line_turns_a_setting_off() {
        let err = ConfigError {
            field: "idle_timeout",
            reason: "must be at least 1ms (leave it unset to turn it off)".into(),
        };
        assert_eq!(
            describe(&err),
            "--idle-timeout must be at least 1ms (type --idle-timeout off to turn it off)"
        );
    }

    #[test]
    fn a_field_without_a_flag_keeps_its_name() {
        let err = ConfigError {
            field: "accept_budget",
            reason: "must be at least 1, got 0".into(),
        };
        assert_eq!(describe(&err), "accept_budget must be at least 1, got 0");
    }
}
