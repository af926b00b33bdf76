//! Timestamp formats without a date crate: GitHub's RFC 3339 `expires_at` and the runner's
//! `2026-11-22 20:00:00Z` log prefix. Std-only (runner-wrapper's
//! library is too) so the static fake runner can use it.

use runner_wrapper::contract::{civil_from_days, format_utc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// (year, month, day, hour, minute, second) of a Unix time, UTC: the product's one date
/// routine (runner-wrapper's contract), not a copy.
pub fn civil(epoch_secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let (year, month, day) = civil_from_days(epoch_secs.div_euclid(86_400));
    let secs = epoch_secs.rem_euclid(86_400);
    (
        year,
        month,
        day,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

fn epoch(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(e) => (-(e.duration().as_secs() as i64), 0),
    }
}

/// RFC 3339 with milliseconds in the given UTC offset, e.g. `2026-11-22T13:00:00.123-08:00`
/// (the shape GitHub uses for `expires_at`).
pub fn rfc3339(t: SystemTime, offset_minutes: i32) -> String {
    let (secs, millis) = epoch(t);
    let (y, mo, d, h, mi, s) = civil(secs + i64::from(offset_minutes) * 60);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}{sign}{:02}:{:02}",
        off / 60,
        off % 60
    )
}

/// The runner Listener's log prefix format `{UTC:yyyy-MM-dd HH:mm:ssZ}`.
pub fn runner_ts(t: SystemTime) -> String {
    format_utc(epoch(t).0)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_356_000_123); // 2026-11-22 14:00:00.123Z
        assert_eq!(rfc3339(t, 0), "2026-11-22T14:00:00.123+00:00");
        assert_eq!(rfc3339(t, -480), "2026-11-22T06:00:00.123-08:00");
        assert_eq!(runner_ts(t), "2026-11-22 14:00:00Z");
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
    }
}
