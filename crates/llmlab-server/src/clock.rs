//! The server's one clock; business logic stamps times, not the database.

/// Now, as Unix milliseconds.
#[must_use]
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
