//! Time window: the hours and weekdays, in one time zone, during which a rule applies.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// A validated `when` table. Hours and weekdays are both read in `timezone`, on the
/// local date of the statement: `hours = "22:00-06:00"` with `weekdays = ["fri"]`
/// covers Friday 00:00–06:00 and Friday 22:00–24:00.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    hours: Option<Hours>,
    /// `None`: every day.
    weekdays: Option<Vec<Weekday>>,
    timezone: Tz,
}

impl Window {
    pub(crate) fn new(
        hours: Option<Hours>,
        weekdays: Option<Vec<Weekday>>,
        timezone: Tz,
    ) -> Window {
        Window {
            hours,
            weekdays,
            timezone,
        }
    }

    pub(crate) fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.timezone);
        let day_ok = self
            .weekdays
            .as_ref()
            .is_none_or(|days| days.contains(&local.weekday()));
        // Truncating to the minute is exact: the bounds are whole minutes.
        let minute = (local.hour() * 60 + local.minute()) as u16;
        day_ok && self.hours.is_none_or(|hours| hours.contains(minute))
    }
}

/// `HH:MM-HH:MM`: from the first minute (included) to the second (excluded). A start
/// after the end wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hours {
    start: u16,
    end: u16,
}

impl Hours {
    pub(crate) fn parse(text: &str) -> Result<Hours, String> {
        let shape = || format!("hours `{text}`: expected `HH:MM-HH:MM`, e.g. `09:00-17:00`");
        let (start, end) = text.split_once('-').ok_or_else(shape)?;
        let start = minute_of_day(start.trim()).ok_or_else(shape)?;
        let end = minute_of_day(end.trim()).ok_or_else(shape)?;
        if start == MINUTES_PER_DAY {
            return Err(format!("hours `{text}`: a window cannot start at 24:00"));
        }
        if start == end || (start == 0 && end == MINUTES_PER_DAY) {
            return Err(format!(
                "hours `{text}`: a window must be shorter than a day; leave `hours` out for all day"
            ));
        }
        Ok(Hours { start, end })
    }

    fn contains(self, minute: u16) -> bool {
        if self.start < self.end {
            self.start <= minute && minute < self.end
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// `H:MM` or `HH:MM`, `00:00` to `24:00`.
fn minute_of_day(text: &str) -> Option<u16> {
    let (hour, minute) = text.split_once(':')?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())?
    };
    let (hour, minute) = (digits(hour, 1..=2)?, digits(minute, 2..=2)?);
    match (hour, minute) {
        (0..=23, 0..=59) | (24, 0) => Some(hour * 60 + minute),
        _ => None,
    }
}

/// `mon` … `sun`.
pub(crate) fn weekday(text: &str) -> Result<Weekday, String> {
    const NAMES: [(&str, Weekday); 7] = [
        ("mon", Weekday::Mon),
        ("tue", Weekday::Tue),
        ("wed", Weekday::Wed),
        ("thu", Weekday::Thu),
        ("fri", Weekday::Fri),
        ("sat", Weekday::Sat),
        ("sun", Weekday::Sun),
    ];
    NAMES
        .iter()
        .find(|(name, _)| *name == text)
        .map(|&(_, day)| day)
        .ok_or_else(|| {
            format!("unknown weekday `{text}`; expected one of mon, tue, wed, thu, fri, sat, sun")
        })
}

/// An IANA time zone name such as `Europe/Berlin`, or `UTC`.
pub(crate) fn timezone(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>().map_err(|_| {
        format!(
            "unknown time zone `{text}`; expected an IANA name such as `Europe/Berlin` or `UTC`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn window(hours: Option<&str>, weekdays: Option<&[&str]>, tz: &str) -> Window {
        Window::new(
            hours.map(|h| Hours::parse(h).unwrap()),
            weekdays.map(|days| days.iter().map(|d| weekday(d).unwrap()).collect()),
            timezone(tz).unwrap(),
        )
    }

    #[test]
    fn office_hours_include_start_and_exclude_end() {
        let office = window(Some("09:00-17:00"), None, "UTC");
        assert!(!office.contains(at("2024-05-06T08:59:59Z")));
        assert!(office.contains(at("2024-05-06T09:00:00Z")));
        assert!(office.contains(at("2024-05-06T16:59:59Z")));
        assert!(!office.contains(at("2024-05-06T17:00:00Z")));
    }

    #[test]
    fn night_wraps_midnight() {
        let night = window(Some("22:00-06:00"), None, "UTC");
        assert!(night.contains(at("2024-05-06T22:00:00Z")));
        assert!(night.contains(at("2024-05-06T23:59:00Z")));
        assert!(night.contains(at("2024-05-07T00:00:00Z")));
        assert!(night.contains(at("2024-05-07T05:59:59Z")));
        assert!(!night.contains(at("2024-05-07T06:00:00Z")));
        assert!(!night.contains(at("2024-05-07T12:00:00Z")));
        assert!(!night.contains(at("2024-05-07T21:59:59Z")));
    }

    #[test]
    fn end_of_day_is_24_00() {
        let evening = window(Some("17:00-24:00"), None, "UTC");
        assert!(evening.contains(at("2024-05-06T23:59:59Z")));
        assert!(!evening.contains(at("2024-05-07T00:00:00Z")));
    }

    #[test]
    fn weekdays_use_the_local_date() {
        // 2024-05-10 is a Friday.
        let weekend = window(None, Some(&["sat", "sun"]), "UTC");
        assert!(!weekend.contains(at("2024-05-10T23:59:59Z")));
        assert!(weekend.contains(at("2024-05-11T00:00:00Z")));
        assert!(weekend.contains(at("2024-05-12T23:59:59Z")));
        assert!(!weekend.contains(at("2024-05-13T00:00:00Z")));
        // Friday 23:30 UTC is already Saturday in Tokyo.
        let tokyo_weekend = window(None, Some(&["sat", "sun"]), "Asia/Tokyo");
        assert!(tokyo_weekend.contains(at("2024-05-10T23:30:00Z")));
    }

    #[test]
    fn wrapping_hours_on_a_weekday_stay_on_that_date() {
        let friday_night = window(Some("22:00-06:00"), Some(&["fri"]), "UTC");
        assert!(friday_night.contains(at("2024-05-10T03:00:00Z")));
        assert!(friday_night.contains(at("2024-05-10T23:00:00Z")));
        assert!(!friday_night.contains(at("2024-05-11T03:00:00Z")));
    }

    #[test]
    fn time_zone_follows_daylight_saving() {
        let berlin = window(Some("09:00-17:00"), None, "Europe/Berlin");
        // Winter (CET, UTC+1): 08:30 UTC is 09:30 local.
        assert!(berlin.contains(at("2024-01-15T08:30:00Z")));
        assert!(!berlin.contains(at("2024-01-15T07:30:00Z")));
        assert!(!berlin.contains(at("2024-01-15T16:30:00Z")));
        // Summer (CEST, UTC+2): 07:30 UTC is 09:30 local, 15:30 UTC is 17:30.
        assert!(berlin.contains(at("2024-07-15T07:30:00Z")));
        assert!(!berlin.contains(at("2024-07-15T15:30:00Z")));
        // Around the switch on 2024-03-31 (01:00 UTC): the same UTC time of day
        // falls outside the day before and inside the day of the change.
        assert!(!berlin.contains(at("2024-03-30T07:30:00Z")));
        assert!(berlin.contains(at("2024-03-31T07:30:00Z")));
    }

    #[test]
    fn hours_are_validated() {
        for bad in [
            "9-17",
            "09:00",
            "09:00-",
            "25:00-26:00",
            "09:60-10:00",
            "24:00-06:00",
            "09:00-09:00",
            "00:00-24:00",
            "9:0-10:00",
            "ab:cd-10:00",
            "+9:00-10:00",
        ] {
            assert!(Hours::parse(bad).is_err(), "{bad}");
        }
        assert!(Hours::parse("9:00-17:30").is_ok());
        assert!(Hours::parse("22:00 - 06:00").is_ok());
    }

    #[test]
    fn weekdays_and_time_zones_are_validated() {
        assert!(weekday("Mon").is_err());
        assert!(weekday("monday").is_err());
        assert!(timezone("Europe/Nowhere").is_err());
        assert!(timezone("UTC").is_ok());
        assert!(timezone("America/New_York").is_ok());
    }
}
