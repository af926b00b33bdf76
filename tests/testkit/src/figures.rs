//! What the benches share to time things and summarize the times.

use crate::lab::Fleet;
use std::time::{Duration, Instant};

/// How long `ghr ARGS` of `fleet` took; it must succeed.
pub fn timed(fleet: &Fleet, args: &[&str]) -> Duration {
    let start = Instant::now();
    fleet.ghr(args).ok();
    start.elapsed()
}

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The `p` percentile (0..=1) of the sorted `sorted`, nearest rank.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles_by_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        assert_eq!(median(ms(&[3, 1, 2])), Duration::from_millis(2));
        assert_eq!(median(ms(&[4, 1, 3, 2])), Duration::from_millis(3));
        let sorted = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(pct(&sorted, 0.5), Duration::from_millis(50));
        assert_eq!(pct(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(pct(&sorted, 0.0), Duration::from_millis(1));
    }
}
