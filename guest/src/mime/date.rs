//! The `Date` header (RFC 5322 §3.3 `date-time`) from Unix milliseconds, always in UTC
//! (`+0000`). The time is an input: this module never reads a clock.

/// RFC 5322 §3.3 `day-name`, starting on Sunday.
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/// RFC 5322 §3.3 `month`.
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Formats `unix_ms` (milliseconds since 1970-01-01T00:00:00Z; leap seconds do not exist
/// in Unix time) as `Sun, 29 Nov 2026 11:14:00 +0000`. Milliseconds are dropped: RFC 5322
/// has no fractional seconds.
pub fn rfc5322_date(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = secs / 86_400;
    let day_secs = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[((days + 4) % 7) as usize];
    format!(
        "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
    )
}

/// The proleptic Gregorian (year, month 1–12, day 1–31) of a day count since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days` ("chrono-Compatible Low-Level Date Algorithms"),
/// unsigned because the input is never before 1970: days are shifted so the year starts
/// on 1 March (the leap day is then the last day of the year) and counted in 400-year eras
/// of 146,097 days, inside which the 4/100/400 leap-year rule is plain arithmetic.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // 719,468 days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097; // [0, 146096]
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let shifted_month = (5 * day_of_year + 2) / 153; // [0, 11], 0 = March
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The UTC calendar date and time of `unix_ms`: (year, month 1–12, day 1–31, hour, minute,
/// second). Used beside the `Date` field, e.g. for the archive entries' timestamps.
pub fn civil_time(unix_ms: u64) -> (u64, u8, u8, u8, u8, u8) {
    let secs = unix_ms / 1000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let day_secs = secs % 86_400;
    (year, month as u8, day as u8, (day_secs / 3600) as u8, (day_secs / 60 % 60) as u8, (day_secs % 60) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: u64 = 86_400_000;

    #[test]
    fn epoch() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(DAY_MS - 1), "Thu, 01 Jan 1970 23:59:59 +0000");
    }

    #[test]
    fn known_instants() {
        // `date -u -d @1795950840`
        assert_eq!(rfc5322_date(1_795_950_840_000), "Sun, 29 Nov 2026 11:14:00 +0000");
        assert_eq!(rfc5322_date(946_684_800_000), "Sat, 01 Jan 2000 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_234_567_890_123), "Fri, 13 Feb 2009 23:31:30 +0000");
        assert_eq!(rfc5322_date(4_102_444_800_000), "Fri, 01 Jan 2100 00:00:00 +0000");
        assert_eq!(rfc5322_date(253_402_300_799_000), "Fri, 31 Dec 9999 23:59:59 +0000");
    }

    #[test]
    fn leap_years() {
        // 2000 is a leap year (divisible by 400), 2100 is not (by 100), 2024 is (by 4).
        assert_eq!(rfc5322_date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400_000 + DAY_MS), "Wed, 01 Mar 2000 00:00:00 +0000");
        assert_eq!(rfc5322_date(4_107_456_000_000), "Sun, 28 Feb 2100 00:00:00 +0000");
        assert_eq!(rfc5322_date(4_107_456_000_000 + DAY_MS), "Mon, 01 Mar 2100 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_709_164_800_000), "Thu, 29 Feb 2024 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_735_603_200_000), "Tue, 31 Dec 2024 00:00:00 +0000");
        assert_eq!(rfc5322_date(68_169_600_000), "Tue, 29 Feb 1972 00:00:00 +0000");
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // Walks 1970 through 2401 day by day, checking the calendar's own rules.
        let mut expected = (1970u64, 1u64, 1u64);
        for days in 0..days_until_year(2401) {
            let got = civil_from_days(days);
            assert_eq!(got, expected, "day {days}");
            let (y, m, d) = expected;
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let month_len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            expected = if d < month_len {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    /// Days from 1970-01-01 to 1 January of `year`.
    fn days_until_year(year: u64) -> u64 {
        (1970..year).map(|y| if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) { 366 } else { 365 }).sum()
    }

    #[test]
    fn far_future_does_not_overflow() {
        let s = rfc5322_date(u64::MAX);
        assert!(s.ends_with(" +0000"), "{s}");
    }
}
