//! Hold timeout: how long a held statement waits for approval, written `30s`, `15m`, `2h`, `1h30m`.

use std::time::Duration;

/// The longest hold a rule may ask for.
const LONGEST: Duration = Duration::from_secs(7 * 24 * 3600);

/// Reads one or more `<number><unit>` parts, unit `s`, `m`, `h` or `d`.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let shape =
        || format!("timeout `{text}`: expected a duration such as `30s`, `15m`, `2h` or `1h30m`");
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(shape());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = rest[..digits].parse().map_err(|_| shape())?;
        let unit = match rest[digits..].chars().next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86400,
            _ => return Err(shape()),
        };
        total = number
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(shape)?;
        rest = &rest[digits + 1..];
    }
    let timeout = Duration::from_secs(total);
    if timeout.is_zero() {
        return Err(format!("timeout `{text}` must be longer than zero"));
    }
    if timeout > LONGEST {
        return Err(format!("timeout `{text}` is longer than the limit of 7d"));
    }
    Ok(timeout)
}

/// Writes a duration the way [`parse`] reads it, e.g. `5m`, `1h30m`, `90s` → `1m30s`.
pub fn display(timeout: Duration) -> String {
    let secs = timeout.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut text = String::new();
    let (days, hours, minutes, seconds) =
        (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    for (count, unit) in [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")] {
        if count > 0 {
            text.push_str(&format!("{count}{unit}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_combinations() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "15",
            "m",
            "15 m",
            "15min",
            "1.5h",
            "-5m",
            "0s",
            "0m0s",
            "8d",
            "99999999999999999999s",
            "18446744073709551615h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn displays_as_it_reads() {
        for (secs, text) in [
            (300, "5m"),
            (90, "1m30s"),
            (5400, "1h30m"),
            (86400, "1d"),
            (7, "7s"),
        ] {
            assert_eq!(display(Duration::from_secs(secs)), text);
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)));
        }
    }
}
