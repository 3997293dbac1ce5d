//! The options a configuration file and the environment may set: every
//! long option of the command line, read from clap's [`Command`], so an
//! option added later gets its key (`max-connections`) and its variable
//! (`ESOCKETS_MAX_CONNECTIONS`) with no code of its own.

use clap::{Arg, ArgAction, Command};

/// The prefix of the environment variables.
pub const ENV_PREFIX: &str = "ESOCKETS_";

/// Long options that are not settings: `--help`, `--version`, and
/// `--config`, which names the file.
const NOT_SETTINGS: &[&str] = &["help", "version", "config"];

/// How an option takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A flag without a value (`--no-pin`): `true` or `false`.
    Flag,
    /// One value.
    One,
    /// Repeatable (`--ws-allowed-origin`): a TOML array, a comma-separated
    /// variable.
    Many,
}

/// One option that the file and the environment may set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// clap's id (the `Cli` field's name).
    pub id: String,
    /// The long flag without `--`: the file's key.
    pub name: String,
    /// How it takes its value.
    pub shape: Shape,
    /// Its default, as `--help` shows it (`unset` if it has none).
    pub default: String,
}

impl Key {
    /// Its environment variable: `ESOCKETS_` and the name in upper case,
    /// dashes as underscores.
    pub fn env(&self) -> String {
        format!(
            "{ENV_PREFIX}{}",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// The flag as typed: `--max-connections`.
    pub fn flag(&self) -> String {
        format!("--{}", self.name)
    }
}

/// Every option of `command` that is a setting.
pub fn keys(command: &Command) -> Vec<Key> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_long()?;
            (!NOT_SETTINGS.contains(&name)).then(|| Key {
                id: arg.get_id().to_string(),
                name: name.to_owned(),
                shape: shape(arg),
                default: default(arg),
            })
        })
        .collect()
}

/// How `arg` takes its value.
fn shape(arg: &Arg) -> Shape {
    match arg.get_action() {
        ArgAction::SetTrue => Shape::Flag,
        ArgAction::Append => Shape::Many,
        _ if arg.get_value_delimiter().is_some() => Shape::Many,
        _ => Shape::One,
    }
}

/// What `arg` is when nothing sets it.
fn default(arg: &Arg) -> String {
    let values: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|value| value.to_string_lossy().into_owned())
        .collect();
    match shape(arg) {
        Shape::Flag => "false".into(),
        _ if values.is_empty() => "unset".into(),
        _ => values.join(","),
    }
}

/// The key nearest to a misspelt `name`, if one is near enough to suggest.
pub fn nearest<'a>(keys: &'a [Key], name: &str) -> Option<&'a str> {
    keys.iter()
        .map(|key| (strsim::jaro(&key.name, name), key.name.as_str()))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_long_option_is_a_key_with_its_variable() {
        let keys = keys(&crate::cli::Cli::command());
        let key = |name: &str| {
            keys.iter()
                .find(|key| key.name == name)
                .unwrap_or_else(|| panic!("no key {name}"))
        };
        assert_eq!(key("max-connections").env(), "ESOCKETS_MAX_CONNECTIONS");
        assert_eq!(key("max-connections").shape, Shape::One);
        assert_eq!(key("no-pin").shape, Shape::Flag);
        assert_eq!(key("no-pin").default, "false");
        assert_eq!(key("read-buffer").default, "64KiB");
        assert_eq!(key("threads").default, "unset");
        assert_eq!(key("ws-allowed-origin").shape, Shape::Many);
        assert_eq!(key("proxy-trusted").shape, Shape::Many);
        assert_eq!(key("tls-cert").shape, Shape::Many);
        assert!(keys
            .iter()
            .all(|key| !NOT_SETTINGS.contains(&key.name.as_str())));
    }

    #[test]
    fn a_misspelt_key_gets_the_nearest() {
        let keys = keys(&crate::cli::Cli::command());
        assert_eq!(nearest(&keys, "max-conections"), Some("max-connections"));
        assert_eq!(nearest(&keys, "zzz"), None);
    }
}
