//! Durations (`500ms`, `2s`, `5m`) and byte sizes (`64KiB`, `1GiB`) as typed command-line values.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration given by a person: a non-negative number with an optional unit
/// (`ms`, `s`, `m`, `h`; seconds when none), rounded to whole milliseconds, at most
/// [`MAX_DURATION`]. `0` means "no limit" to the callers that allow it, so a duration that is
/// not 0 but rounds to it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

/// A byte count given by a person: `1024`, `64K`/`64KiB` (binary), `64KB` (decimal), up to `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

/// The longest duration accepted: a year (8760h). Longer ones could overflow a deadline
/// (`Instant + Duration`) and mean nothing for a socket exchange; `0` is "no limit".
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// The largest size accepted: 1024 TiB (2^50 bytes).
pub const MAX_SIZE: u64 = 1 << 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    input: String,
    why: &'static str,
}

impl UnitError {
    /// The text that was refused.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.why)
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

/// Whether a number as written is other than zero (so tiny that `f64` makes it 0 included).
fn not_zero(number: &str) -> bool {
    number.bytes().any(|b| (b'1'..=b'9').contains(&b))
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
        let err = |why| UnitError {
            input: s.to_string(),
            why,
        };
        let (number, unit) = split_number(s.trim());
        let value: f64 = number
            .parse()
            .map_err(|_| err("expected a duration such as 500ms, 2s, 1.5m or 1h"))?;
        let ms_per_unit = match unit {
            "ms" => 1.0,
            "" | "s" | "sec" => 1e3,
            "m" | "min" => 60e3,
            "h" => 3600e3,
            _ => return Err(err("expected a duration such as 500ms, 2s, 1.5m or 1h")),
        };
        // Whole milliseconds, the smallest unit there is to write.
        let ms = (value * ms_per_unit).round();
        if !ms.is_finite() || ms > MAX_DURATION.as_millis() as f64 {
            return Err(err(
                "too long: a duration is at most 8760h (a year); 0 means none",
            ));
        }
        if ms == 0.0 && not_zero(number) {
            return Err(err(
                "too short: a duration is at least 1 ms (0 means none, so it cannot be rounded to 0)",
            ));
        }
        Ok(HumanDuration(Duration::from_millis(ms as u64)))
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
        let err = |why| UnitError {
            input: s.to_string(),
            why,
        };
        let unknown = || err("expected a size such as 4096, 64KiB, 10MB or 1GiB");
        let (number, unit) = split_number(s.trim());
        let value: f64 = number.parse().map_err(|_| unknown())?;
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
            _ => return Err(unknown()),
        };
        let bytes = (value * scale).round();
        if !bytes.is_finite() || bytes > MAX_SIZE as f64 {
            return Err(err("too large: a size is at most 1024TiB"));
        }
        if bytes == 0.0 && not_zero(number) {
            return Err(err("too small: a size other than 0 is at least 1 byte"));
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
    fn out_of_range_durations_are_refused() {
        // Past the limit, an `Instant` plus the duration would overflow.
        for bad in [
            "10000000000000000000",
            "10000000000000000000s",
            "1e300",
            "9999999999h",
            "366d",
            "8761h",
        ] {
            assert_eq!(dur(bad), None, "{bad}");
        }
        assert_eq!(dur("8760h"), Some(MAX_DURATION));
        let err = "10000000000000000000".parse::<HumanDuration>().unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn durations_below_the_resolution_are_refused_not_zero() {
        // A non-zero duration must not become 0, which means "no limit".
        for bad in ["1ns", "0.0001ms", "0.4ms", "0.0000001"] {
            assert_eq!(dur(bad), None, "{bad}");
        }
        let err = "0.0001ms".parse::<HumanDuration>().unwrap_err();
        assert!(err.to_string().contains("1 ms"), "{err}");
        assert_eq!(dur("0.6ms"), Some(Duration::from_millis(1)));
        let underflow = format!("0.{}1", "0".repeat(400));
        assert_eq!(dur(&underflow), None);
        assert_eq!(underflow.parse::<ByteSize>().ok(), None);
        assert_eq!(dur("0.000"), Some(Duration::ZERO));
        assert_eq!(dur("1ms"), Some(Duration::from_millis(1)));
    }

    #[test]
    fn out_of_range_sizes_are_refused() {
        let size = |s: &str| s.parse::<ByteSize>().ok().map(|b| b.0);
        for bad in [
            "18446744073709551616",
            "16EiB",
            "99999999999999999999",
            "1e30",
        ] {
            assert_eq!(size(bad), None, "{bad}");
        }
        assert_eq!(size("1PiB"), None);
        assert_eq!(size("1024TiB"), Some(MAX_SIZE));
        assert_eq!(size("1025TiB"), None);
        assert_eq!(size("0.4"), None);
        assert_eq!(size("0"), Some(0));
        let err = "99999999999999999999".parse::<ByteSize>().unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,40}") {
            let _ = text.parse::<HumanDuration>();
            let _ = text.parse::<ByteSize>();
        }

        #[test]
        fn numeric_inputs_never_panic(
            number in "[0-9]{0,30}(\\.[0-9]{0,30})?",
            unit in "(|ms|s|sec|m|min|h|B|K|k|KiB|M|MiB|G|GiB|T|TiB|KB|kB|MB|GB|TB|x)",
        ) {
            let text = format!("{number}{unit}");
            if let Ok(d) = text.parse::<HumanDuration>() {
                proptest::prop_assert!(d.0 <= MAX_DURATION);
                // Usable as a deadline.
                let _ = std::time::Instant::now() + d.0;
            }
            if let Ok(b) = text.parse::<ByteSize>() {
                proptest::prop_assert!(b.0 <= MAX_SIZE);
            }
        }
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(format_duration(Duration::from_micros(700)), "0.70 ms");
        assert_eq!(format_duration(Duration::from_millis(63)), "63 ms");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5 s");
    }
}
