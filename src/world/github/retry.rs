//! When to try a request again and how long to wait first: exponential backoff for
//! transient failures, and GitHub's rate-limit rules for 403/429.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::header::HeaderMap;

/// Wait before retry number `attempt` (0 = first retry): `base * 2^attempt`, capped at `max`,
/// plus up to 25 % jitter (`jitter` in 0..1) so parallel workers hit by the same burst of
/// 5xx answers do not come back in lockstep.
pub fn backoff_delay(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.min(30)));
    let capped = exp.min(max);
    capped + capped.mul_f64(jitter.clamp(0.0, 1.0) * 0.25)
}

/// Whether another attempt starts after `retries` retries and `elapsed` on one request, and
/// after what wait (`delay`, from [`backoff_delay`]): only while retries are left and the
/// attempt can still begin a second before `budget` (the request's whole time) runs out. So a
/// blip of 5xx answers or resets is ridden out, and a GitHub that does not answer fails
/// within the budget.
pub fn next_attempt(
    retries: u32,
    max_retries: u32,
    elapsed: Duration,
    budget: Duration,
    delay: Duration,
) -> Option<Duration> {
    let starts_at = elapsed.saturating_add(delay);
    (retries < max_retries && starts_at + Duration::from_secs(1) <= budget).then_some(delay)
}

/// A number in 0..1 that differs between calls and threads; std's randomly seeded hasher is
/// enough for jitter and saves a dependency.
pub fn jitter() -> f64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What a rate-limited answer asks of us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitWait {
    /// How long to wait before the next request.
    pub wait: Duration,
    /// When the limit lifts, epoch seconds (for the message when we do not wait).
    pub reset_at: i64,
    /// `primary` (the hourly budget) or `secondary` (too much at once).
    pub kind: &'static str,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// GitHub's documented rules: a 403 or 429 is a rate limit when `retry-after` is present
/// (wait that many seconds), or `x-ratelimit-remaining` is 0 (wait until `x-ratelimit-reset`,
/// epoch seconds), or the body says it is a secondary rate limit (wait at least a minute,
/// longer on every repeat: `waited` is how many waits this request went through already).
/// Any other 403 is a permission problem and yields `None`.
pub fn rate_limit_wait(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    now: i64,
    waited: u32,
) -> Option<RateLimitWait> {
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(secs) = header(headers, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(RateLimitWait {
            wait: Duration::from_secs(secs),
            reset_at: now + secs as i64,
            kind: "secondary",
        });
    }
    if header(headers, "x-ratelimit-remaining") == Some("0") {
        if let Some(reset) =
            header(headers, "x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())
        {
            // +1 s: the reset time is rounded to whole seconds.
            let secs = (reset - now).max(0) as u64 + 1;
            return Some(RateLimitWait {
                wait: Duration::from_secs(secs),
                reset_at: reset,
                kind: "primary",
            });
        }
    }
    let lower = body.to_ascii_lowercase();
    if status == 429 || lower.contains("rate limit") {
        let secs = 60u64 << waited.min(6);
        return Some(RateLimitWait {
            wait: Duration::from_secs(secs),
            reset_at: now + secs as i64,
            kind: "secondary",
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(backoff_delay(0, base, max, 0.0), Duration::from_millis(100));
        assert_eq!(backoff_delay(1, base, max, 0.0), Duration::from_millis(200));
        assert_eq!(backoff_delay(3, base, max, 0.0), Duration::from_millis(800));
        assert_eq!(backoff_delay(4, base, max, 0.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(99, base, max, 0.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(0, base, max, 1.0), Duration::from_millis(125));
    }

    #[test]
    fn retries_go_on_while_the_budget_lasts() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        for (retries, elapsed, delay, want) in [
            (0, s(0), ms(500), Some(ms(500))),
            (4, s(8), s(4), Some(s(4))),
            // The attempt would start with less than a second left of the 25 s.
            (5, s(21), s(4), None),
            (5, s(20), s(4), Some(s(4))),
            (3, s(25), ms(500), None),
            // Out of retries.
            (20, s(1), ms(500), None),
        ] {
            assert_eq!(
                next_attempt(retries, 20, elapsed, s(25), delay),
                want,
                "{retries} {elapsed:?}"
            );
        }
        // Five 502s in a row with ghr's backoff (0.5 s doubling to 4 s, +25 % jitter) are
        // ridden out well within the budget: the sixth attempt starts by 15 s.
        let mut elapsed = Duration::ZERO;
        for retry in 0..5 {
            let delay = backoff_delay(retry, ms(500), s(4), 1.0);
            elapsed += next_attempt(retry, 20, elapsed, s(25), delay).expect("a retry");
        }
        assert!(elapsed < s(15), "{elapsed:?}");
    }

    #[test]
    fn jitter_is_in_range_and_varies() {
        let xs: Vec<f64> = (0..50).map(|_| jitter()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().any(|x| (x - xs[0]).abs() > 1e-9));
    }

    #[test]
    fn primary_limit_waits_until_reset() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1010"),
        ]);
        let w = rate_limit_wait(403, &h, "API rate limit exceeded", 1000, 0).unwrap();
        assert_eq!(w.wait, Duration::from_secs(11));
        assert_eq!(w.reset_at, 1010);
        // A reset already in the past still waits a moment, never negative.
        let w = rate_limit_wait(429, &h, "", 2000, 0).unwrap();
        assert_eq!(w.wait, Duration::from_secs(1));
    }

    #[test]
    fn retry_after_wins() {
        let h = headers(&[
            ("retry-after", "7"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "5000"),
        ]);
        let w = rate_limit_wait(429, &h, "", 1000, 0).unwrap();
        assert_eq!(w.wait, Duration::from_secs(7));
        assert_eq!(w.reset_at, 1007);
    }

    #[test]
    fn secondary_limit_without_headers_waits_a_minute_then_longer() {
        let body = "You have exceeded a secondary rate limit";
        let waits: Vec<u64> = (0..4)
            .map(|n| {
                rate_limit_wait(403, &HeaderMap::new(), body, 0, n)
                    .unwrap()
                    .wait
                    .as_secs()
            })
            .collect();
        assert_eq!(waits, [60, 120, 240, 480]);
        assert_eq!(
            rate_limit_wait(429, &HeaderMap::new(), "", 0, 0)
                .unwrap()
                .kind,
            "secondary"
        );
    }

    #[test]
    fn plain_403_is_not_a_rate_limit() {
        let h = headers(&[
            ("x-ratelimit-remaining", "4999"),
            ("x-ratelimit-reset", "5000"),
        ]);
        assert_eq!(
            rate_limit_wait(403, &h, "Must have admin rights", 0, 0),
            None
        );
        assert_eq!(rate_limit_wait(500, &h, "rate limit", 0, 0), None);
    }
}
