//! Reloading on SIGHUP: the environment and the configuration file are
//! read again (the command line stays as typed), the new options checked
//! as at start-up and compared with those in force. Reloadable options
//! are applied through their hook in [`RELOADABLE`]; every other option
//! that changed is logged as needing a restart. Options that cannot be
//! read (a broken file) change nothing, and the log says why.

use crate::applies;
use crate::cli::Cli;
use crate::keys::{keys, Key};
use crate::options::{Options, Sources};
use crate::settings::Settings;

/// Options that can change while the server runs, and how.
#[derive(Debug)]
pub struct Reloadable {
    /// The options (keys, as in the file) this hook applies.
    pub keys: &'static [&'static str],
    /// Applies the new options to the running server. Called at every
    /// reload, whether its options changed or not, so a hook may re-read
    /// files its options name (a renewed certificate under the same path).
    ///
    /// # Errors
    ///
    /// Why they could not be applied; they stay as they were.
    pub apply: fn(new: &Cli, running: &Running) -> Result<(), String>,
}

/// Every reloadable option's hook. An option listed in none needs a
/// restart to change.
pub const RELOADABLE: &[Reloadable] = &[
    Reloadable {
        keys: crate::tls::RELOADED,
        apply: crate::tls::reload,
    },
    Reloadable {
        keys: crate::rules::RELOADED,
        apply: crate::rules::reload,
    },
];

/// The running server, as the hooks see it (a hook that needs more, such
/// as the [`esockets::ServerHandle`], adds it here).
#[derive(Debug)]
pub struct Running {
    /// The configuration it started with (its TLS is shared: a clone
    /// reloads the running one).
    pub config: esockets::Config,
    /// The pubsub token keys, when authentication is on (shared with
    /// the authorizer, as the TLS is).
    pub keys: Option<std::sync::Arc<esockets::protocols::pubsub::auth::Keys>>,
}

/// One option whose value differs between two readings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The option's key.
    pub key: String,
    /// The value in force, for people.
    pub old: String,
    /// The value read now.
    pub new: String,
}

/// What SIGHUP reloads, and what is in force.
#[derive(Debug)]
pub struct Reloader {
    /// Where the options come from.
    sources: Sources,
    /// The options in force, and where they came from.
    settings: Settings,
    /// The server.
    running: Running,
    /// The reloadable options' hooks.
    hooks: &'static [Reloadable],
}

impl Reloader {
    /// A reloader of the server `running`, started with `settings` read
    /// from `sources`.
    pub fn new(sources: Sources, settings: Settings, running: Running) -> Self {
        Self {
            sources,
            settings,
            running,
            hooks: RELOADABLE,
        }
    }

    /// Reads the options again and applies what can change; logs what
    /// needs a restart, what failed, and a summary line.
    pub fn reload(&mut self) {
        let options = match self.read() {
            Ok(options) => options,
            Err(reason) => {
                tracing::error!("reload failed, the configuration in force stays: {reason}");
                return;
            }
        };
        let keys = keys(self.sources.command());
        let changes = changes(&keys, &self.settings, &options.settings);
        let hooks = self.hooks;
        let reloadable = |key: &str| hooks.iter().any(|hook| hook.keys.contains(&key));
        let restart: Vec<&Change> = changes.iter().filter(|c| !reloadable(&c.key)).collect();
        for change in &restart {
            tracing::warn!(
                "needs a restart: {} ({} -> {})",
                change.key,
                change.old,
                change.new
            );
        }
        let mut failed = Vec::new();
        let mut applied = Vec::new();
        for hook in hooks {
            match (hook.apply)(&options.cli, &self.running) {
                Ok(()) => {
                    // Applied again even if unchanged (files re-read): those set, and
                    // those that changed back to their default.
                    applied.extend(hook.keys.iter().copied().filter(|key| {
                        options.settings.given.iter().any(|s| s.key.name == *key)
                            || changes.iter().any(|c| c.key == *key)
                    }));
                    self.settings = taken(&keys, &self.settings, &options.settings, hook);
                }
                Err(reason) => {
                    tracing::warn!(
                        "reload of {} failed, they stay as they were: {reason}",
                        hook.keys.join(", ")
                    );
                    failed.extend(hook.keys.iter().copied());
                }
            }
        }
        let restart: Vec<&str> = restart.iter().map(|c| c.key.as_str()).collect();
        tracing::info!(
            "reload: applied: {}; needs a restart: {}; failed: {}",
            listed(&applied),
            listed(&restart),
            listed(&failed)
        );
    }

    /// The options now, checked as at start-up.
    fn read(&self) -> Result<Options, String> {
        let options = self.sources.read().map_err(|err| err.to_string())?;
        applies::check(&options.cli, &options.settings)?;
        options.cli.config()?;
        Ok(options)
    }
}

/// The options whose value differs between `old` and `new`, in the order
/// of `keys`; an option set by neither is at its default in both.
pub fn changes(keys: &[Key], old: &Settings, new: &Settings) -> Vec<Change> {
    let shown = |settings: &Settings, key: &Key| {
        settings
            .get(&key.id)
            .map_or_else(|| key.default.clone(), |setting| setting.shown())
    };
    keys.iter()
        .filter_map(|key| {
            let (old, new) = (shown(old, key), shown(new, key));
            (old != new).then(|| Change {
                key: key.name.clone(),
                old,
                new,
            })
        })
        .collect()
}

/// `current`, with the options `hook` applied taken from `new`.
fn taken(keys: &[Key], current: &Settings, new: &Settings, hook: &Reloadable) -> Settings {
    let given = keys
        .iter()
        .filter_map(|key| {
            let from = if hook.keys.contains(&key.name.as_str()) {
                new
            } else {
                current
            };
            from.get(&key.id).cloned()
        })
        .collect();
    Settings {
        given,
        strays: current.strays.clone(),
    }
}

/// `keys` comma-separated, or `none`.
fn listed(keys: &[&str]) -> String {
    if keys.is_empty() {
        "none".into()
    } else {
        keys.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::Place;
    use crate::settings::{Origin, Setting};
    use clap::CommandFactory;

    /// The binary's options.
    fn all() -> Vec<Key> {
        keys(&Cli::command())
    }

    /// Settings giving each `(key, values)` from a file.
    fn given(pairs: &[(&str, &[&str])]) -> Settings {
        let keys = all();
        Settings {
            given: pairs
                .iter()
                .map(|(name, values)| Setting {
                    key: keys.iter().find(|k| k.name == *name).expect(name).clone(),
                    values: values.iter().map(|v| (*v).to_owned()).collect(),
                    origin: Origin::File(Place {
                        path: "config.toml".into(),
                        line: 1,
                    }),
                })
                .collect(),
            strays: Vec::new(),
        }
    }

    /// A change of `key` from `old` to `new`.
    fn change(key: &str, old: &str, new: &str) -> Change {
        Change {
            key: key.into(),
            old: old.into(),
            new: new.into(),
        }
    }

    #[test]
    fn changes_compare_values_with_defaults_for_unset_options() {
        let old = given(&[("threads", &["2"]), ("no-pin", &["true"])]);
        let new = given(&[
            ("threads", &["2"]),
            ("max-connections", &["50"]),
            ("read-buffer", &["128KiB"]),
        ]);
        assert_eq!(
            changes(&all(), &old, &new),
            [
                change("no-pin", "true", "false"),
                change("max-connections", "unset", "50"),
                change("read-buffer", "64KiB", "128KiB"),
            ]
        );
        assert!(changes(&all(), &old, &old).is_empty());
    }

    #[test]
    fn a_hook_takes_only_its_options_from_the_new_reading() {
        let hook = Reloadable {
            keys: &["max-connections"],
            apply: |_, _| Ok(()),
        };
        let old = given(&[("threads", &["2"]), ("max-connections", &["10"])]);
        let new = given(&[("threads", &["4"]), ("max-connections", &["20"])]);
        let now = taken(&all(), &old, &new, &hook);
        assert_eq!(
            changes(&all(), &old, &now),
            [change("max-connections", "10", "20")]
        );
    }
}
