//! GitHub REST client for self-hosted runners: scope (org or repo), pagination, retries,
//! rate limits, and errors that never carry the PAT or a token.

mod client;
mod error;
mod pagination;
mod retry;
mod scope;
mod secret;
mod stats;
mod timefmt;

pub use client::{
    GitHub, Label, Notify, Options, ProxySettings, Result, Runner, RunnerGroup, Token, API_VERSION,
    PER_PAGE, WRITE_CONCURRENCY,
};
pub use error::GitHubError;
pub use pagination::{link_rel, pages_needed};
pub use retry::{backoff_delay, rate_limit_wait, RateLimitWait};
pub use scope::Scope;
pub use secret::Secret;
pub use stats::{endpoint_kind, error_kind, ApiStats, StatsSnapshot};
pub use timefmt::{format_utc, now_epoch, parse_rfc3339};
