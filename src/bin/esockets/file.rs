//! The configuration file (`--config FILE`): TOML, one top-level key per
//! option, each value kept as text with the line it is on, so that every
//! error names the file and the line.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{Document, Item, Value};

use crate::keys::{nearest, Key, Shape};

/// The largest configuration file read: far more than every option
/// written out, small enough that a wrong path (a log file) is refused
/// quickly.
const MAX_FILE: u64 = 1 << 20;

/// One option the file sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The option's clap id.
    pub id: String,
    /// Its values, as text (`true` for a flag that is on).
    pub values: Vec<String>,
    /// Where: the file's path and the key's line (from 1).
    pub place: Place,
}

/// A line of a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The file, as named.
    pub path: PathBuf,
    /// The line, from 1.
    pub line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// Reads the file at `path` against the options `keys`.
///
/// # Errors
///
/// The file cannot be read, is not TOML, or holds a key that is not an
/// option or a value of the wrong shape: a message naming the file and,
/// where there is one, the line.
pub fn read(path: &Path, keys: &[Key]) -> Result<Vec<Entry>, String> {
    let named = path.display();
    let size = std::fs::metadata(path)
        .map_err(|err| format!("cannot read the configuration file {named}: {err}"))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "the configuration file {named} is {size} bytes: more than {MAX_FILE}, is it the right file?"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read the configuration file {named}: {err}"))?;
    parse(path, &text, keys)
}

/// The entries of `text`, the contents of the file at `path`.
///
/// # Errors
///
/// As for [`read`], less reading.
pub fn parse(path: &Path, text: &str, keys: &[Key]) -> Result<Vec<Entry>, String> {
    let at = |span: Option<Range<usize>>| Place {
        path: path.to_owned(),
        line: span.map_or(1, |span| line_of(text, span.start)),
    };
    let document = Document::parse(text).map_err(|err| {
        let reason = err.message().trim_end().replace('\n', "; ");
        format!("{}: not TOML: {reason}", at(err.span()))
    })?;
    let table = document.as_table();
    let mut entries = Vec::new();
    for (name, item) in table.iter() {
        let place = at(table.get_key_value(name).and_then(|(key, _)| key.span()));
        let Some(key) = keys.iter().find(|key| key.name == name) else {
            let hint = nearest(keys, name)
                .map_or_else(String::new, |near| format!(" (did you mean \"{near}\"?)"));
            return Err(format!("{place}: unknown key \"{name}\"{hint}"));
        };
        let values = values(key, item).map_err(|reason| format!("{place}: {name}: {reason}"))?;
        entries.push(Entry {
            id: key.id.clone(),
            values,
            place,
        });
    }
    Ok(entries)
}

/// The values `item` gives `key`, as text.
fn values(key: &Key, item: &Item) -> Result<Vec<String>, String> {
    let Some(value) = item.as_value() else {
        return Err("a table: options are top-level keys (max-connections = 5000)".into());
    };
    match (key.shape, value) {
        (Shape::Flag, Value::Boolean(on)) => Ok(if *on.value() {
            vec!["true".into()]
        } else {
            Vec::new()
        }),
        (Shape::Flag, _) => Err(format!("takes true or false, got {}", kind(value))),
        (Shape::Many, Value::Array(array)) => array.iter().map(scalar).collect(),
        (Shape::One, Value::Array(_)) => Err("takes one value, not an array".into()),
        (_, value) => scalar(value).map(|text| vec![text]),
    }
}

/// One value as the command line would spell it.
fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.value().clone()),
        Value::Integer(number) => Ok(number.value().to_string()),
        Value::Float(number) => Ok(number.value().to_string()),
        Value::Boolean(on) => Ok(on.value().to_string()),
        other => Err(format!("takes a string or a number, got {}", kind(other))),
    }
}

/// What a value is, in the words of an error.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

/// The line (from 1) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `text` parsed as `config.toml` against the binary's options.
    fn parsed(text: &str) -> Result<Vec<Entry>, String> {
        parse(
            Path::new("config.toml"),
            text,
            &crate::keys::keys(&crate::cli::Cli::command()),
        )
    }

    #[test]
    fn keys_become_values_with_their_line() {
        let entries = parsed(
            "# a comment\nprotocol = \"pubsub\"\n\nmax-connections = 5000\nno-pin = true\n\
             ws-allowed-origin = [\"https://a\", \"https://b\"]\nreuseport-join = false\n",
        )
        .expect("parses");
        let line = |id: &str| {
            let entry = entries.iter().find(|e| e.id == id).expect(id);
            (entry.values.clone(), entry.place.line)
        };
        assert_eq!(line("protocol"), (vec!["pubsub".to_owned()], 2));
        assert_eq!(line("max_connections"), (vec!["5000".to_owned()], 4));
        assert_eq!(line("no_pin"), (vec!["true".to_owned()], 5));
        assert_eq!(
            line("ws_allowed_origin"),
            (vec!["https://a".to_owned(), "https://b".to_owned()], 6)
        );
        assert_eq!(line("reuseport_join"), (Vec::new(), 7));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line_and_the_nearest() {
        let err = parsed("threads = 2\n\n\nmax-conections = 5\n").expect_err("unknown");
        assert_eq!(
            err,
            "config.toml:4: unknown key \"max-conections\" (did you mean \"max-connections\"?)"
        );
    }

    #[test]
    fn values_of_the_wrong_shape_are_refused_with_their_line() {
        let err = parsed("threads = [1, 2]\n").expect_err("array");
        assert_eq!(err, "config.toml:1: threads: takes one value, not an array");
        let err = parsed("\nno-pin = \"yes\"\n").expect_err("flag");
        assert_eq!(
            err,
            "config.toml:2: no-pin: takes true or false, got a string"
        );
        let err = parsed("[tls]\ncert = \"a\"\n").expect_err("table");
        assert!(
            err.starts_with("config.toml:1: unknown key \"tls\""),
            "{err}"
        );
    }

    #[test]
    fn broken_toml_names_the_line() {
        let err = parsed("threads = 2\nprotocol = \n").expect_err("broken");
        assert!(err.starts_with("config.toml:2: not TOML: "), "{err}");
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let err = read(Path::new("/nonexistent/esockets.toml"), &[]).expect_err("missing");
        assert!(
            err.starts_with("cannot read the configuration file /nonexistent/esockets.toml: "),
            "{err}"
        );
    }
}
