//! Durations (`500ms`, `2s`, `5m`) and byte sizes (`64KiB`, `1GiB`) as typed command-line values.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration given by a person: a non-negative number with an optional unit
/// (`ms`, `s`, `m`, `h`; seconds when none). `0` means "no limit" to the callers that allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

/// A byte count given by a person: `1024`, `64K`/`64KiB` (binary), `64KB` (decimal), up to `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    input: String,
    expected: &'static str,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid value '{}': expected {}",
            self.input, self.expected
        )
    }
}

impl std::error::Error for UnitError {}

/// Splits `12.5ms` into (`12.5`, `ms`).
fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim_start())
}

impl HumanDuration {
    /// `None` for zero, which the CLI uses to mean "no limit".
    pub fn limit(self) -> Option<Duration> {
        (!self.0.is_zero()).then_some(self.0)
    }
}

impl FromStr for HumanDuration {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnitError {
            input: s.to_string(),
            expected: "a duration such as 500ms, 2s, 1.5m or 1h",
        };
        let (number, unit) = split_number(s.trim());
        let value: f64 = number.parse().map_err(|_| err())?;
        let scale = match unit {
            "ms" => 0.001,
            "" | "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        Duration::try_from_secs_f64(value * scale)
            .map(HumanDuration)
            .map_err(|_| err())
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", format_duration(self.0))
    }
}

/// Milliseconds with microsecond precision: how JSON outputs give durations.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Short human form used in messages: `850 ms`, `2.5 s`, `3 min`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 120_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.1} min", ms / 60_000.0)
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnitError {
            input: s.to_string(),
            expected: "a size such as 4096, 64KiB, 10MB or 1GiB",
        };
        let (number, unit) = split_number(s.trim());
        let value: f64 = number.parse().map_err(|_| err())?;
        let scale: f64 = match unit {
            "" | "B" => 1.0,
            "K" | "k" | "KiB" => 1024.0,
            "M" | "MiB" => 1024.0 * 1024.0,
            "G" | "GiB" => 1024.0 * 1024.0 * 1024.0,
            "T" | "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            "KB" | "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            _ => return Err(err()),
        };
        let bytes = (value * scale).round();
        if !bytes.is_finite() || bytes > u64::MAX as f64 {
            return Err(err());
        }
        Ok(ByteSize(bytes as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(s: &str) -> Option<Duration> {
        s.parse::<HumanDuration>().ok().map(|d| d.0)
    }

    #[test]
    fn durations() {
        assert_eq!(dur("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(dur("2s"), Some(Duration::from_secs(2)));
        assert_eq!(dur("2"), Some(Duration::from_secs(2)));
        assert_eq!(dur("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(dur("5m"), Some(Duration::from_secs(300)));
        assert_eq!(dur("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(dur("0"), Some(Duration::ZERO));
        assert_eq!("0".parse::<HumanDuration>().unwrap().limit(), None);
        for bad in ["", "-1s", "1x", "s", "nan", "1e999s", "1..2s"] {
            assert_eq!(dur(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes() {
        let size = |s: &str| s.parse::<ByteSize>().ok().map(|b| b.0);
        assert_eq!(size("4096"), Some(4096));
        assert_eq!(size("64KiB"), Some(65536));
        assert_eq!(size("64K"), Some(65536));
        assert_eq!(size("10MB"), Some(10_000_000));
        assert_eq!(size("1GiB"), Some(1 << 30));
        assert_eq!(size("1.5KiB"), Some(1536));
        for bad in ["", "-1", "1Q", "KiB", "99999999999TiB"] {
            assert_eq!(size(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(format_duration(Duration::from_micros(700)), "0.70 ms");
        assert_eq!(format_duration(Duration::from_millis(63)), "63 ms");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5 s");
    }
}
