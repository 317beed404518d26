//! Value parsers for flags, each failing with one sentence that names the
//! value and says what to type instead, never a parser's internals (clap's
//! own parsers say "invalid digit found in string", jiff's "failed to parse
//! four digit integer as year"). `crate::usage_error` prints the sentence
//! after the flag's name.

use std::fmt;
use std::net::IpAddr;

use jiff::Timestamp;
use jiff::civil::Date;
use llmlab_core::budget::{BudgetPeriod, Thresholds};

/// A bound of a date range as typed: a whole day, or an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateOrTime {
    /// `YYYY-MM-DD`: the whole day, in the time zone of the query.
    Day(Date),
    /// An RFC 3339 time: that instant.
    Instant(Timestamp),
}

impl fmt::Display for DateOrTime {
    /// The form the server's API takes: `2026-12-07`, or RFC 3339 in UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateOrTime::Day(date) => write!(f, "{date}"),
            DateOrTime::Instant(instant) => write!(f, "{instant}"),
        }
    }
}

/// `2026-12-07` or `2026-12-07T10:00:00Z` (any RFC 3339 offset).
pub(crate) fn date_or_time(raw: &str) -> Result<DateOrTime, String> {
    let text = raw.trim();
    let invalid = || format!("`{raw}` is not a date: use YYYY-MM-DD or an RFC 3339 time (2026-12-07T10:00:00Z)");
    // With a time, only an instant: jiff's `Date` parser would take the day of
    // `2026-12-07T23:30:00+01:00` and drop the time. `Timestamp` takes RFC 3339
    // (and RFC 9557), which requires an offset.
    if text.contains(['T', 't', ' ']) {
        return text.parse::<Timestamp>().map(DateOrTime::Instant).map_err(|_| invalid());
    }
    text.parse::<Date>().map(DateOrTime::Day).map_err(|_| invalid())
}

/// `2026-12-07`; an RFC 3339 time counts as its day in UTC.
pub(crate) fn date(raw: &str) -> Result<Date, String> {
    match date_or_time(raw) {
        Ok(DateOrTime::Day(date)) => Ok(date),
        Ok(DateOrTime::Instant(instant)) => Ok(instant.to_zoned(jiff::tz::TimeZone::UTC).date()),
        Err(_) => Err(format!("`{raw}` is not a date: use YYYY-MM-DD")),
    }
}

/// A TCP port, `0` to `65535`.
pub(crate) fn port(raw: &str) -> Result<u16, String> {
    raw.trim().parse::<u16>().map_err(|_| format!("`{raw}` is not a port: use a number from 0 to 65535"))
}

/// An IPv4 or IPv6 address (not a host name: the server binds to it).
pub(crate) fn ip_address(raw: &str) -> Result<IpAddr, String> {
    raw.trim().parse::<IpAddr>().map_err(|_| {
        format!("`{raw}` is not an IP address: use 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or ::")
    })
}

/// A positive number of seconds, such as `30` or `2.5`.
pub(crate) fn seconds(raw: &str) -> Result<f64, String> {
    let invalid = || format!("`{raw}` is not a number of seconds: use a positive number such as 30 or 2.5");
    let text = raw.trim();
    // Plain decimals only: `inf`, `NaN` and `1e3` parse as floats but are not what anyone means.
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(invalid());
    }
    text.parse::<f64>().ok().filter(|s| s.is_finite() && *s > 0.0).ok_or_else(invalid)
}

/// A budget period: `day`, `week`, `month` or `total` (any case; `daily`,
/// `weekly` and `monthly` too).
pub(crate) fn period(raw: &str) -> Result<BudgetPeriod, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "day" | "daily" => Ok(BudgetPeriod::Day),
        "week" | "weekly" => Ok(BudgetPeriod::Week),
        "month" | "monthly" => Ok(BudgetPeriod::Month),
        "total" => Ok(BudgetPeriod::Total),
        _ => Err(format!("`{raw}` is not a budget period: use day, week, month or total")),
    }
}

/// A tag as `KEY=VALUE` (`customer=acme`), both sides trimmed and non-empty;
/// the `key=value` form the server stores.
pub(crate) fn tag(raw: &str) -> Result<String, String> {
    match raw.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
            Ok(format!("{}={}", key.trim(), value.trim()))
        }
        _ => Err(format!("`{raw}` is not a tag: use KEY=VALUE, e.g. customer=acme")),
    }
}

/// Warning thresholds: percentages of the amount, comma-separated (`80,100`,
/// `50,92.5,100`); an empty value means no warnings.
pub(crate) fn thresholds(raw: &str) -> Result<Thresholds, String> {
    raw.parse::<Thresholds>()
        .map_err(|e| format!("`{raw}` is not a list of thresholds ({e}): use percentages of the amount such as 80,100"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_rfc3339_times_are_accepted() {
        assert_eq!(date_or_time("2026-12-07").unwrap().to_string(), "2026-12-07");
        assert_eq!(date_or_time("2026-12-07T00:00:00Z").unwrap().to_string(), "2026-12-07T00:00:00Z");
        assert_eq!(date_or_time("2026-12-07T01:30:00+01:00").unwrap().to_string(), "2026-12-07T00:30:00Z");
        assert_eq!(date("2026-12-07T23:30:00-02:00").unwrap().to_string(), "2026-12-08");
        assert!(date_or_time("2026-12-07T10:00:00").is_err(), "a time without an offset is not an instant");
    }

    #[test]
    fn a_value_that_does_not_parse_is_named_in_one_sentence() {
        assert_eq!(
            date_or_time("notadate").unwrap_err(),
            "`notadate` is not a date: use YYYY-MM-DD or an RFC 3339 time (2026-12-07T10:00:00Z)"
        );
        assert_eq!(date("2026-13-01").unwrap_err(), "`2026-13-01` is not a date: use YYYY-MM-DD");
        assert_eq!(port("99999").unwrap_err(), "`99999` is not a port: use a number from 0 to 65535");
        assert!(ip_address("localhost").unwrap_err().starts_with("`localhost` is not an IP address"));
        for bad in ["0", "-1", "abc", "inf", "NaN", "1e3", ""] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert!((seconds("2.5").unwrap() - 2.5).abs() < f64::EPSILON);
    }

    #[test]
    fn budget_periods_tags_and_thresholds_are_read_as_typed_or_named_in_one_sentence() {
        assert_eq!(period("Week").unwrap(), BudgetPeriod::Week);
        assert_eq!(period("monthly").unwrap(), BudgetPeriod::Month);
        assert_eq!(
            period("fortnight").unwrap_err(),
            "`fortnight` is not a budget period: use day, week, month or total"
        );
        assert_eq!(tag(" customer = acme ").unwrap(), "customer=acme");
        assert_eq!(tag("team=a=b").unwrap(), "team=a=b");
        for bad in ["acme", "=acme", "customer=", " = "] {
            assert_eq!(tag(bad).unwrap_err(), format!("`{bad}` is not a tag: use KEY=VALUE, e.g. customer=acme"));
        }
        assert_eq!(thresholds("100, 50%,92.5").unwrap().to_string(), "50,92.5,100");
        assert!(thresholds("").unwrap().as_slice().is_empty(), "an empty list turns warnings off");
        assert_eq!(
            thresholds("0,100").unwrap_err(),
            "`0,100` is not a list of thresholds (a threshold must be more than 0%, not 0%): use percentages of the amount such as 80,100"
        );
        assert!(thresholds("80,abc").unwrap_err().contains("`abc` is not a percentage"));
        assert!(thresholds("80,80").unwrap_err().contains("given twice"));
    }
}
