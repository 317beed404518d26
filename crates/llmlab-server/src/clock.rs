//! The server's one clock; business logic stamps times, not the database.

/// Now, as Unix milliseconds.
#[must_use]
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Formats Unix ms as RFC 3339 in UTC, always with three fractional digits
/// (`2026-12-07T10:00:00.810Z`): times are stored to the millisecond, and a
/// fixed width sorts as text and reads the same in every row of an export.
#[must_use]
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| format!("{t:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_always_have_three_fractional_digits() {
        assert_eq!(rfc3339(1_796_637_600_000), "2026-12-07T10:00:00.000Z");
        assert_eq!(rfc3339(1_796_637_600_810), "2026-12-07T10:00:00.810Z");
        assert_eq!(rfc3339(1_796_637_600_518), "2026-12-07T10:00:00.518Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
