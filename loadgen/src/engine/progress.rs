//! The live progress line (on stderr, only when stdout is a terminal and
//! `--quiet` is not given).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A one-line spinner with a message, or nothing.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A visible line if `enabled` and stdout is a terminal.
    pub fn new(enabled: bool) -> Self {
        if !enabled || !std::io::stdout().is_terminal() {
            return Self { bar: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(2));
        let style = ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        Self { bar: Some(bar) }
    }

    /// Replaces the message.
    pub fn set(&self, msg: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
            bar.tick();
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
