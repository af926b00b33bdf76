//! The two time formats GitHub uses (RFC 3339 in bodies, epoch seconds in headers), without
//! pulling in a date crate: the calendar arithmetic, the clock and the format people read
//! are runner-wrapper's contract (one date routine for ghr and the wrapper).

use runner_wrapper::contract::days_from_civil;
pub use runner_wrapper::contract::format_utc;

/// Seconds since the Unix epoch, now (signed: GitHub's times are compared and subtracted).
pub fn now_epoch() -> i64 {
    runner_wrapper::contract::now_epoch() as i64
}

/// Parses GitHub's `expires_at` (`2020-01-22T12:13:35.123-08:00`, `...Z`) to epoch seconds.
/// Fractions of a second are dropped.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' || !matches!(rb[0], b'+' | b'-') {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let off = oh * 3600 + om * 60;
            if rb[0] == b'-' {
                -off
            } else {
                off
            }
        }
    };
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_github_examples() {
        // GitHub's documented example: 2020-01-22T12:13:35.123-08:00 == 20:13:35 UTC.
        assert_eq!(
            parse_rfc3339("2020-01-22T12:13:35.123-08:00"),
            Some(1_579_724_015)
        );
        assert_eq!(parse_rfc3339("2020-01-22T20:13:35Z"), Some(1_579_724_015));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00+01:00"),
            Some(1_709_161_200)
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2020-01-22",
            "2020-13-01T00:00:00Z",
            "2020-01-22T12:13:35",
            "x020-01-22T12:13:35Z",
            "2020-01-22T12:13:35.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_utc(1_579_724_015), "2020-01-22 20:13:35Z");
        assert_eq!(format_utc(0), "1970-01-01 00:00:00Z");
        for t in [0, 951_782_400, 1_709_161_200, 4_102_444_799] {
            let s = format_utc(t).replace(' ', "T");
            assert_eq!(parse_rfc3339(&s), Some(t), "{s}");
        }
    }
}
