//! Writing a report (any serializable value) as pretty JSON.

use crate::Failure;

/// Writes `report` as pretty JSON to `path`.
pub fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) -> Result<(), Failure> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Failure::Runtime(format!("JSON: {e}")))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", path.display())))
}
