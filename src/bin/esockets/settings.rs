//! The options in force and where each came from: the command line over
//! the environment (`ESOCKETS_<OPTION>`) over the configuration file over
//! the default. Each value from the environment or the file is checked by
//! the option's own parser, so a bad one is named with its variable or its
//! line; then they are handed to clap as if typed, after the real command
//! line, so every rule between options holds whatever their source.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::file::{self, Place};
use crate::keys::{keys, Key, Shape, ENV_PREFIX};

/// The variable that names the configuration file, when `--config` does not.
pub const CONFIG_ENV: &str = "ESOCKETS_CONFIG";

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Typed on the command line.
    Flag,
    /// This environment variable.
    Env(String),
    /// This line of the configuration file.
    File(Place),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("the command line"),
            Self::Env(name) => f.write_str(name),
            Self::File(place) => place.fmt(f),
        }
    }
}

/// One option not left at its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The option.
    pub key: Key,
    /// Its values as text; for a flag, `["true"]` when on, none when off.
    pub values: Vec<String>,
    /// Where they came from.
    pub origin: Origin,
}

impl Setting {
    /// The value for people: `true`/`false` for a flag, values joined by
    /// commas otherwise.
    pub fn shown(&self) -> String {
        match self.key.shape {
            Shape::Flag => (!self.values.is_empty()).to_string(),
            _ => self.values.join(","),
        }
    }
}

/// Every option some source set, in the order of `--help`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// The options set.
    pub given: Vec<Setting>,
    /// `ESOCKETS_` variables that are no option's, ignored.
    pub strays: Vec<String>,
}

impl Settings {
    /// The setting of the option with clap id `id`, if a source set it.
    pub fn get(&self, id: &str) -> Option<&Setting> {
        self.given.iter().find(|setting| setting.key.id == id)
    }

    /// The arguments that give clap the values from the environment and
    /// the file, to go after the command line's own.
    pub fn args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        for setting in self.given.iter().filter(|s| s.origin != Origin::Flag) {
            let flag = setting.key.flag();
            match setting.key.shape {
                Shape::Flag if !setting.values.is_empty() => args.push(flag.into()),
                Shape::Flag => {}
                _ => args.extend(
                    setting
                        .values
                        .iter()
                        .map(|value| format!("{flag}={value}").into()),
                ),
            }
        }
        args
    }
}

/// The configuration file's path: `--config` as typed (in `typed`), else
/// [`CONFIG_ENV`].
pub fn config_path(typed: &ArgMatches) -> Option<PathBuf> {
    typed
        .get_one::<PathBuf>("config_file")
        .cloned()
        .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from))
}

/// The settings of this process: the command line `typed`, its
/// environment, and the file at `path` if any, read now.
///
/// # Errors
///
/// A message naming the file (and line) or the variable at fault.
pub fn load(
    command: &Command,
    typed: &ArgMatches,
    path: Option<&Path>,
) -> Result<Settings, String> {
    let keys = keys(command);
    let entries = match path {
        Some(path) => file::read(path, &keys)?,
        None => Vec::new(),
    };
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|n| n.starts_with(ENV_PREFIX)) else {
            continue;
        };
        let value = value
            .into_string()
            .map_err(|_| format!("{name}: not valid UTF-8"))?;
        env.push((name.to_owned(), value));
    }
    merge(command, typed, &env, entries)
}

/// The settings from the command line `typed`, the `ESOCKETS_` variables
/// `env` and the file's `entries`, each value checked.
///
/// # Errors
///
/// A message naming the variable or the file's line whose value the
/// option does not accept.
pub fn merge(
    command: &Command,
    typed: &ArgMatches,
    env: &[(String, String)],
    entries: Vec<file::Entry>,
) -> Result<Settings, String> {
    let keys = keys(command);
    let mut settings = Settings::default();
    for key in &keys {
        let setting = if typed.value_source(&key.id) == Some(ValueSource::CommandLine) {
            Some(Setting {
                values: typed_values(typed, key),
                origin: Origin::Flag,
                key: key.clone(),
            })
        } else if let Some((name, value)) = env
            .iter()
            .find(|(name, value)| *name == key.env() && !value.is_empty())
        {
            Some(Setting {
                values: env_values(key, value).map_err(|reason| format!("{name}: {reason}"))?,
                origin: Origin::Env(name.clone()),
                key: key.clone(),
            })
        } else {
            entries
                .iter()
                .find(|entry| entry.id == key.id)
                .map(|entry| Setting {
                    values: entry.values.clone(),
                    origin: Origin::File(entry.place.clone()),
                    key: key.clone(),
                })
        };
        if let Some(setting) = setting {
            check(command, &setting)?;
            settings.given.push(setting);
        }
    }
    settings.strays = env
        .iter()
        .map(|(name, _)| name)
        .filter(|name| *name != CONFIG_ENV && keys.iter().all(|key| key.env() != **name))
        .cloned()
        .collect();
    Ok(settings)
}

/// The values of `key` as typed.
fn typed_values(typed: &ArgMatches, key: &Key) -> Vec<String> {
    if key.shape == Shape::Flag {
        return vec!["true".into()];
    }
    typed
        .get_raw(&key.id)
        .into_iter()
        .flatten()
        .map(|value| value.to_string_lossy().into_owned())
        .collect()
}

/// The values of `key` in an environment variable's `value`: a flag is
/// `true`/`false` (or 1/0, yes/no, on/off), a repeatable option a
/// comma-separated list.
fn env_values(key: &Key, value: &str) -> Result<Vec<String>, String> {
    match key.shape {
        Shape::Flag => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(vec!["true".into()]),
            "false" | "0" | "no" | "off" => Ok(Vec::new()),
            _ => Err(format!(
                "invalid value \"{value}\": {} is a flag: true or false",
                key.name
            )),
        },
        Shape::Many => Ok(value.split(',').map(|v| v.trim().to_owned()).collect()),
        Shape::One => Ok(vec![value.to_owned()]),
    }
}

/// Checks a value from the environment or the file with its option's
/// parser.
///
/// # Errors
///
/// `PLACE: KEY: invalid value "VALUE": REASON`, or `VARIABLE: invalid
/// value ...`.
fn check(command: &Command, setting: &Setting) -> Result<(), String> {
    if setting.origin == Origin::Flag || setting.key.shape == Shape::Flag {
        return Ok(());
    }
    let Some(arg) = command
        .get_arguments()
        .find(|arg| arg.get_id() == setting.key.id.as_str())
    else {
        return Ok(());
    };
    // The option alone, with its own parser: the rules between options
    // wait for the final parse.
    let alone = Command::new("esockets").arg(
        Arg::new(arg.get_id().clone())
            .index(1)
            .allow_hyphen_values(true)
            .action(ArgAction::Set)
            .value_parser(arg.get_value_parser().clone()),
    );
    for value in &setting.values {
        if let Err(err) = alone.clone().try_get_matches_from(["esockets", value]) {
            let name = match &setting.origin {
                Origin::File(_) => format!("{}: ", setting.key.name),
                _ => String::new(),
            };
            return Err(format!(
                "{}: {name}invalid value \"{value}\": {}",
                setting.origin,
                reason(&err)
            ));
        }
    }
    Ok(())
}

/// Why clap's parser refused a value, without clap's framing.
fn reason(err: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(err) {
        return source.to_string();
    }
    match err.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("possible values: {}", valid.join(", ")),
        _ => err.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The settings from the command line `args`, the variables `env` and
    /// the file `text` (as `config.toml`).
    fn merged(args: &[&str], env: &[(&str, &str)], text: &str) -> Result<Settings, String> {
        let command = crate::cli::Cli::command();
        let typed = command
            .clone()
            .ignore_errors(true)
            .try_get_matches_from(std::iter::once("esockets").chain(args.iter().copied()))
            .expect("arguments");
        let entries = file::parse(Path::new("config.toml"), text, &keys(&command))?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        merge(&command, &typed, &env, entries)
    }

    /// The value and origin of `id`.
    fn of(settings: &Settings, id: &str) -> (String, String) {
        let setting = settings.get(id).unwrap_or_else(|| panic!("{id} not set"));
        (setting.shown(), setting.origin.to_string())
    }

    /// A pair of strings, for comparing with [`of`].
    fn pair(value: &str, origin: &str) -> (String, String) {
        (value.to_owned(), origin.to_owned())
    }

    #[test]
    fn flag_over_environment_over_file_over_default() {
        let file = "threads = 3\nmax-connections = 100\nbacklog = 64\nno-pin = true\n";
        let env = [
            ("ESOCKETS_MAX_CONNECTIONS", "200"),
            ("ESOCKETS_BACKLOG", "128"),
            ("ESOCKETS_NO_PIN", "false"),
        ];
        let settings = merged(&["--backlog", "256"], &env, file).expect("merges");
        assert_eq!(of(&settings, "threads"), pair("3", "config.toml:1"));
        assert_eq!(
            of(&settings, "max_connections"),
            pair("200", "ESOCKETS_MAX_CONNECTIONS")
        );
        assert_eq!(of(&settings, "backlog"), pair("256", "the command line"));
        assert_eq!(of(&settings, "no_pin"), pair("false", "ESOCKETS_NO_PIN"));
        assert!(
            settings.get("read_buffer").is_none(),
            "defaults are not given"
        );
        let args: Vec<String> = settings
            .args()
            .into_iter()
            .map(|a| a.into_string().expect("utf-8"))
            .collect();
        assert_eq!(args, ["--threads=3", "--max-connections=200"]);
    }

    #[test]
    fn repeatable_options_take_arrays_and_lists_and_the_flag_replaces_them() {
        let file = "ws-allowed-origin = [\"https://a\", \"https://b\"]\nproxy-trusted = [\"10.0.0.0/8\"]\n";
        let env = [("ESOCKETS_PROXY_TRUSTED", "10.0.0.1, 10.0.0.2")];
        let settings = merged(&["--ws-allowed-origin", "https://c"], &env, file).expect("merges");
        assert_eq!(
            of(&settings, "ws_allowed_origin"),
            pair("https://c", "the command line")
        );
        assert_eq!(
            of(&settings, "proxy_trusted"),
            pair("10.0.0.1,10.0.0.2", "ESOCKETS_PROXY_TRUSTED")
        );
    }

    #[test]
    fn bad_values_name_their_line_or_variable() {
        let err = merged(&[], &[], "\n\nmax-connections = \"x\"\n").expect_err("bad");
        assert!(
            err.starts_with("config.toml:3: max-connections: invalid value \"x\": "),
            "{err}"
        );
        let err = merged(&[], &[], "protocol = \"gopher\"\n").expect_err("bad");
        assert!(err.contains("possible values: echo, line-echo"), "{err}");
        let err = merged(&[], &[("ESOCKETS_READ_BUFFER", "lots")], "").expect_err("bad");
        assert!(
            err.starts_with("ESOCKETS_READ_BUFFER: invalid value \"lots\": "),
            "{err}"
        );
        let err = merged(&[], &[("ESOCKETS_NO_PIN", "maybe")], "").expect_err("bad");
        assert!(err.contains("no-pin is a flag"), "{err}");
    }

    #[test]
    fn an_empty_variable_is_unset_and_strays_are_listed() {
        let env = [
            ("ESOCKETS_THREADS", ""),
            ("ESOCKETS_TEST_CHILD", "1"),
            (CONFIG_ENV, "x.toml"),
        ];
        let settings = merged(&[], &env, "threads = 2\n").expect("merges");
        assert_eq!(of(&settings, "threads"), pair("2", "config.toml:1"));
        assert_eq!(settings.strays, ["ESOCKETS_TEST_CHILD"]);
    }
}
