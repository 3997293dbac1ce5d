//! Sizes and durations as people type them, and as the server prints them.
//!
//! Sizes: a whole number of bytes (`4096`), or a number and a unit, with or
//! without a space, in any case: binary `KiB`, `MiB`, `GiB` (also `K`, `M`,
//! `G`) are powers of 1024, decimal `KB`, `MB`, `GB` powers of 1000, and
//! `B` is bytes. A fraction is allowed with a unit (`1.5MiB`) and rounded
//! down to a whole byte.
//!
//! Durations: a bare number is seconds (`5`, `0.5`); otherwise a number and
//! a unit as `humantime` reads them (`500ms`, `30s`, `2m`, `1h 30m`). A
//! duration that can be turned off takes `off` (any case), its only
//! spelling: 0 is refused there, since it reads as "at once", not "never".

use std::time::Duration;

/// What a size looks like, for error messages.
const SIZE_EXAMPLES: &str = "a size such as 4096, 64KiB, 16MiB or 1GB";

/// What a duration looks like, for error messages.
const DURATION_EXAMPLES: &str = "a duration such as 5 (seconds), 500ms, 30s or 2m";

/// Reads a size in bytes; see the module docs for the forms accepted.
///
/// # Errors
///
/// A message saying what was expected, for clap to show after the flag.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    if number.is_empty() {
        return Err(format!("expected {SIZE_EXAMPLES}, got '{text}'"));
    }
    let Some(multiplier) = unit_bytes(unit) else {
        return Err(format!(
            "unknown unit '{unit}' in '{text}': use B, KiB, MiB, GiB (powers of 1024) \
             or KB, MB, GB (powers of 1000)"
        ));
    };
    let too_large = || format!("'{text}' is too large for this machine");
    if let Ok(whole) = number.parse::<u64>() {
        let bytes = whole.checked_mul(multiplier).ok_or_else(too_large)?;
        return usize::try_from(bytes).map_err(|_| too_large());
    }
    let fraction: f64 = number
        .parse()
        .map_err(|_| format!("expected {SIZE_EXAMPLES}, got '{text}'"))?;
    if unit.is_empty() {
        return Err(format!(
            "'{text}' is not a whole number of bytes: give a unit (1.5MiB) or whole bytes"
        ));
    }
    let bytes = (fraction * multiplier as f64).floor();
    if bytes >= usize::MAX as f64 {
        return Err(too_large());
    }
    // In range and whole: the conversion is exact.
    Ok(bytes as usize)
}

/// Bytes per `unit` (case-insensitive), `None` if it is not one.
fn unit_bytes(unit: &str) -> Option<u64> {
    let bytes = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    Some(bytes)
}

/// Reads a duration: a bare number of seconds, or with a unit.
///
/// # Errors
///
/// A message saying what was expected, for clap to show after the flag.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("expected {DURATION_EXAMPLES}, got '{text}'"));
    }
    humantime::parse_duration(text)
        .map_err(|err| format!("expected {DURATION_EXAMPLES}, got '{text}' ({err})"))
}

/// A duration that can be off: `None` is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrOff(pub Option<Duration>);

/// Reads a duration that can be turned off: `off`, or a duration above 0.
///
/// # Errors
///
/// A message saying what was expected, for clap to show after the flag;
/// for a zero, that `off` is how to turn it off.
pub fn parse_duration_or_off(text: &str) -> Result<OrOff, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(OrOff(None));
    }
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!(
            "'{}' is no time at all: type off to turn this off, or a duration above 0 \
             such as 500ms or 30s",
            text.trim()
        ));
    }
    Ok(OrOff(Some(duration)))
}

/// A size for people: `64 KiB`, `1.5 MiB`, `1000 B`; exact values only
/// (a size that is no whole number of tenths of a unit is printed in B).
pub fn format_size(bytes: usize) -> String {
    const UNITS: [(&str, u128); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    let value = bytes as u128;
    for (name, size) in UNITS {
        if value >= size && (value * 10) % size == 0 {
            let tenths = value * 10 / size;
            return if tenths % 10 == 0 {
                format!("{} {name}", tenths / 10)
            } else {
                format!("{}.{} {name}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{bytes} B")
}

/// A duration for people: `5s`, `500ms`, `1m 30s`.
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_form() {
        for (text, bytes) in [
            ("4096", 4096),
            ("0", 0),
            ("16MiB", 16 << 20),
            ("16 MiB", 16 << 20),
            ("16mib", 16 << 20),
            ("16M", 16 << 20),
            ("64KiB", 64 << 10),
            ("64k", 64 << 10),
            ("1GiB", 1 << 30),
            ("1GB", 1_000_000_000),
            ("1MB", 1_000_000),
            ("2KB", 2_000),
            ("100B", 100),
            ("1.5MiB", 3 << 19),
            ("0.5KiB", 512),
            ("1.1KB", 1_100),
            ("0.3KiB", 307),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_sizes_say_what_to_type() {
        for text in ["", "MiB", "-1", "1.5", "12XB", "1.2.3KiB", "99999999999GiB"] {
            let err = parse_size(text).expect_err(text);
            assert!(
                err.contains("size such as")
                    || err.contains("unit")
                    || err.contains("too large")
                    || err.contains("whole number"),
                "{text}: {err}"
            );
        }
        assert!(parse_size("12XB").expect_err("XB").contains("KiB"));
    }

    #[test]
    fn durations_bare_or_with_units() {
        for (text, duration) in [
            ("5", Duration::from_secs(5)),
            ("0", Duration::ZERO),
            ("0.5", Duration::from_millis(500)),
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("2m", Duration::from_secs(120)),
            ("1h 30m", Duration::from_secs(5400)),
        ] {
            assert_eq!(parse_duration(text), Ok(duration), "{text}");
        }
    }

    #[test]
    fn bad_durations_say_what_to_type() {
        for text in ["", "-1", "5 parsecs", "NaN", "inf", "s"] {
            let err = parse_duration(text).expect_err(text);
            assert!(err.contains("500ms"), "{text}: {err}");
        }
    }

    #[test]
    fn off_is_the_one_spelling_of_off() {
        for text in ["off", "OFF", " Off "] {
            assert_eq!(parse_duration_or_off(text), Ok(OrOff(None)), "{text}");
        }
        assert_eq!(
            parse_duration_or_off("30s"),
            Ok(OrOff(Some(Duration::from_secs(30))))
        );
        for text in ["0", "0s", "0ms", "0.0"] {
            let err = parse_duration_or_off(text).expect_err(text);
            assert!(err.contains("type off"), "{text}: {err}");
        }
        for text in ["none", "never", "disabled", "-"] {
            let err = parse_duration_or_off(text).expect_err(text);
            assert!(err.contains("500ms"), "{text}: {err}");
        }
    }

    #[test]
    fn sizes_print_in_the_largest_exact_unit() {
        assert_eq!(format_size(64 << 10), "64 KiB");
        assert_eq!(format_size(16 << 20), "16 MiB");
        assert_eq!(format_size(3 << 19), "1.5 MiB");
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(format_size(1000), "1000 B");
        assert_eq!(format_size(16), "16 B");
        for bytes in [1, 4096, 65_536, 1_000_000, 3 << 19] {
            let printed = format_size(bytes).replace(' ', "");
            assert_eq!(parse_size(&printed), Ok(bytes), "{printed}");
        }
    }

    #[test]
    fn durations_print_as_typed() {
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
    }
}
