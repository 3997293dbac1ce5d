//! The options of this process, from all their sources: read at start-up
//! and again at each reload (the command line stays as typed).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::settings::{self, Settings};

/// What the options are read from.
#[derive(Debug)]
pub struct Sources {
    /// The command of `--help`.
    command: Command,
    /// The command line, program name first.
    args: Vec<OsString>,
    /// What the command line alone says.
    typed: ArgMatches,
    /// The configuration file, if any.
    path: Option<PathBuf>,
}

/// The options read: parsed, and where each came from.
#[derive(Debug)]
pub struct Options {
    /// As clap parsed them.
    pub cli: Cli,
    /// Those not at their default, and their sources.
    pub settings: Settings,
}

/// Why options could not be read.
#[derive(Debug)]
pub enum Refusal {
    /// clap refused them (or was asked for `--help`).
    Clap(clap::Error),
    /// The file or a variable is at fault: the message names it.
    Source(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // clap's first line, without its "error: ".
            Self::Clap(err) => {
                let text = err.render().to_string();
                let line = text.lines().next().unwrap_or_default();
                f.write_str(line.trim_start_matches("error: "))
            }
            Self::Source(message) => f.write_str(message),
        }
    }
}

impl Sources {
    /// This process's command line (`args`, program name first).
    ///
    /// # Errors
    ///
    /// clap's, for `--help` and `--version`.
    pub fn new(args: Vec<OsString>) -> Result<Self, clap::Error> {
        let command = Cli::command();
        // Rules between options (one requires another) wait until every
        // source is in: the final parse applies them.
        let typed = command
            .clone()
            .ignore_errors(true)
            .try_get_matches_from(&args)?;
        let path = settings::config_path(&typed);
        Ok(Self {
            command,
            args,
            typed,
            path,
        })
    }

    /// The options: the command line, the environment, the file (read now).
    ///
    /// # Errors
    ///
    /// A [`Refusal`] naming what is at fault.
    pub fn read(&self) -> Result<Options, Refusal> {
        let settings = settings::load(&self.command, &self.typed, self.path.as_deref())
            .map_err(Refusal::Source)?;
        let all = self.args.iter().cloned().chain(settings.args());
        let matches = self
            .command
            .clone()
            .try_get_matches_from(all)
            .map_err(Refusal::Clap)?;
        let cli = Cli::from_arg_matches(&matches).map_err(Refusal::Clap)?;
        Ok(Options { cli, settings })
    }

    /// The command of `--help`.
    pub fn command(&self) -> &Command {
        &self.command
    }
}
