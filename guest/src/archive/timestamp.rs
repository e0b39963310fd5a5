//! The entries' modification time, as the MS-DOS date and time fields of a ZIP header.
//!
//! The timestamp is an input, not a clock read, so the same inputs give the same archive
//! layout. This module only validates and packs; it must never clamp or "fix" a date: a date
//! that does not exist is the caller's mistake and is rejected with the field named.

use super::error::SealError;

/// A calendar date and time for the archive entries (local time: the ZIP format has no zone).
///
/// Stored in the MS-DOS layout (APPNOTE.TXT 4.4.6), which limits it to 1980..=2107 and to
/// two-second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// 1980..=2107 (the MS-DOS date range: 7 bits counted from 1980).
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31, and no later than the month's last day.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59; stored halved, so odd seconds round down.
    pub second: u8,
}

/// A validated timestamp packed into the two 16-bit MS-DOS fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DosDateTime {
    /// Bits 15..9 year - 1980, 8..5 month, 4..0 day.
    pub(crate) date: u16,
    /// Bits 15..11 hour, 10..5 minute, 4..0 second / 2.
    pub(crate) time: u16,
}

/// The earliest and latest years the 7-bit MS-DOS year field can hold.
const YEARS: std::ops::RangeInclusive<u16> = 1980..=2107;

impl Timestamp {
    /// Checks every field and packs the MS-DOS date and time (APPNOTE.TXT 4.4.6, which defers
    /// to the MS-DOS `FileTimeToDosDateTime` layout).
    pub(crate) fn to_dos(self) -> Result<DosDateTime, SealError> {
        let Timestamp { year, month, day, hour, minute, second } = self;
        if !YEARS.contains(&year) {
            return Err(invalid(format!("year {year} is outside the ZIP (MS-DOS) range 1980..=2107")));
        }
        if !(1..=12).contains(&month) {
            return Err(invalid(format!("month {month} is not in 1..=12")));
        }
        let last_day = days_in_month(year, month);
        if day == 0 || day > last_day {
            return Err(invalid(format!("day {day} does not exist in {year}-{month:02} (it has {last_day} days)")));
        }
        if hour > 23 {
            return Err(invalid(format!("hour {hour} is not in 0..=23")));
        }
        if minute > 59 {
            return Err(invalid(format!("minute {minute} is not in 0..=59")));
        }
        // 60 (a leap second) has no MS-DOS encoding distinct from the next minute's 0.
        if second > 59 {
            return Err(invalid(format!("second {second} is not in 0..=59")));
        }
        // The range checks above bound every field, so these shifts cannot overflow 16 bits:
        // year - 1980 <= 127 (7 bits), month <= 12 (4), day <= 31 (5), hour <= 23 (5),
        // minute <= 59 (6), second / 2 <= 29 (5).
        let date = ((year - 1980) << 9) | (u16::from(month) << 5) | u16::from(day);
        let time = (u16::from(hour) << 11) | (u16::from(minute) << 5) | u16::from(second / 2);
        Ok(DosDateTime { date, time })
    }
}

fn invalid(message: String) -> SealError {
    SealError::InvalidTimestamp(message)
}

/// Gregorian month lengths; February has 29 days in years divisible by 4, except centuries
/// not divisible by 400 (2100 is in range and is not a leap year).
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Timestamp {
        Timestamp { year, month, day, hour, minute, second }
    }

    fn error_text(t: Timestamp) -> String {
        match t.to_dos() {
            Err(SealError::InvalidTimestamp(text)) => text,
            other => panic!("expected InvalidTimestamp for {t:?}, got {other:?}"),
        }
    }

    #[test]
    fn packs_fields_into_dos_layout() {
        // 2024-02-29 13:45:58 → date (44 << 9) | (2 << 5) | 29, time (13 << 11) | (45 << 5) | 29.
        let dos = ts(2024, 2, 29, 13, 45, 58).to_dos().unwrap();
        assert_eq!(dos.date, (44 << 9) | (2 << 5) | 29);
        assert_eq!(dos.time, (13 << 11) | (45 << 5) | 29);
        assert_eq!(dos.date, 0x585D);
        assert_eq!(dos.time, 0x6DBD);
    }

    #[test]
    fn accepts_range_ends() {
        let first = ts(1980, 1, 1, 0, 0, 0).to_dos().unwrap();
        assert_eq!((first.date, first.time), ((1 << 5) | 1, 0));
        let last = ts(2107, 12, 31, 23, 59, 59).to_dos().unwrap();
        assert_eq!(last.date, (127 << 9) | (12 << 5) | 31);
        assert_eq!(last.time, (23 << 11) | (59 << 5) | 29);
    }

    #[test]
    fn odd_seconds_round_down() {
        let a = ts(2020, 5, 5, 5, 5, 7).to_dos().unwrap();
        let b = ts(2020, 5, 5, 5, 5, 6).to_dos().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_out_of_range_fields_naming_them() {
        assert!(error_text(ts(1979, 12, 31, 0, 0, 0)).starts_with("year 1979"));
        assert!(error_text(ts(2108, 1, 1, 0, 0, 0)).starts_with("year 2108"));
        assert!(error_text(ts(2020, 0, 1, 0, 0, 0)).starts_with("month 0"));
        assert!(error_text(ts(2020, 13, 1, 0, 0, 0)).starts_with("month 13"));
        assert!(error_text(ts(2020, 1, 0, 0, 0, 0)).starts_with("day 0"));
        assert!(error_text(ts(2020, 1, 32, 0, 0, 0)).starts_with("day 32"));
        assert!(error_text(ts(2020, 4, 31, 0, 0, 0)).starts_with("day 31"));
        assert!(error_text(ts(2020, 1, 1, 24, 0, 0)).starts_with("hour 24"));
        assert!(error_text(ts(2020, 1, 1, 0, 60, 0)).starts_with("minute 60"));
        assert!(error_text(ts(2020, 1, 1, 0, 0, 60)).starts_with("second 60"));
    }

    #[test]
    fn february_29_only_in_leap_years() {
        assert!(ts(2000, 2, 29, 0, 0, 0).to_dos().is_ok(), "2000 is a leap year");
        assert!(ts(2024, 2, 29, 0, 0, 0).to_dos().is_ok());
        assert!(error_text(ts(2023, 2, 29, 0, 0, 0)).contains("2023-02"));
        assert!(error_text(ts(2100, 2, 29, 0, 0, 0)).contains("28 days"));
        assert!(error_text(ts(2024, 2, 30, 0, 0, 0)).contains("29 days"));
    }
}
