//! Message times as people read them.

use crate::protocol::Timestamp;

/// `HH:MM` in the reader's local time zone (UTC on the server).
pub fn clock_time(at: Timestamp) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.0 as f64));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
    #[cfg(not(feature = "hydrate"))]
    utc_clock_time(at)
}

/// `HH:MM` in UTC: what the server renders, and the browser until it is hydrated.
pub fn utc_clock_time(at: Timestamp) -> String {
    let minutes_of_day = at.0.div_euclid(60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes_of_day / 60, minutes_of_day % 60)
}

/// The day `at` falls on, as days since 1970-01-01: in the reader's time zone
/// once `local` (hydrated), in UTC before (what the server renders).
pub fn day_of(at: Timestamp, local: bool) -> i64 {
    #[cfg(feature = "hydrate")]
    if local {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.0 as f64));
        // Minutes behind UTC, at that date (summer time included).
        let offset_ms = (date.get_timezone_offset() * 60_000.0) as i64;
        return (at.0 - offset_ms).div_euclid(86_400_000);
    }
    let _ = local;
    at.0.div_euclid(86_400_000)
}

/// Today, as [`day_of`] counts.
pub fn today(local: bool) -> i64 {
    #[cfg(feature = "hydrate")]
    let now = js_sys::Date::now() as i64;
    #[cfg(not(feature = "hydrate"))]
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    day_of(Timestamp(now), local)
}

/// "Today", "Yesterday", "Monday 30 November", or with the year when it is
/// not this year's: what a day divider says.
pub fn day_label(day: i64, today: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match today - day {
        0 => return "Today".to_owned(),
        1 => return "Yesterday".to_owned(),
        _ => {}
    }
    let (y, m, d) = civil_from_days(day);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(day + 4).rem_euclid(7) as usize];
    let month = MONTHS[(m - 1) as usize];
    if y == civil_from_days(today).0 {
        format!("{weekday} {d} {month}")
    } else {
        format!("{weekday} {d} {month} {y}")
    }
}

/// The machine-readable form for `<time datetime>`: RFC 3339 in UTC.
pub fn rfc3339(at: Timestamp) -> String {
    let secs = at.0.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2026-12-04 13:10 UTC`: a date and time in lists of things made and used.
pub fn utc_date_time(at: Timestamp) -> String {
    format!("{} UTC", rfc3339(at)[..16].replace('T', " "))
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(Timestamp(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(Timestamp(1_795_000_000_000)), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(Timestamp(951_782_400_000)), "2000-02-29T00:00:00Z");
        assert_eq!(clock_time(Timestamp(1_795_000_000_000)), "11:06");
        assert_eq!(utc_date_time(Timestamp(1_795_000_000_000)), "2026-11-18 11:06 UTC");
    }

    #[test]
    fn days_read_as_people_say_them() {
        let today = day_of(Timestamp(1_795_000_000_000), false); // Wednesday 18 November 2026
        assert_eq!(day_label(today, today), "Today");
        assert_eq!(day_label(today - 1, today), "Yesterday");
        assert_eq!(day_label(today - 2, today), "Monday 16 November");
        assert_eq!(day_label(today - 365, today), "Tuesday 18 November 2025");
        assert_eq!(day_of(Timestamp(86_399_999), false), 0);
        assert_eq!(day_of(Timestamp(86_400_000), false), 1);
    }
}
