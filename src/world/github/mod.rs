//! GitHub REST client for self-hosted runners: scope (org or repo), pagination, retries,
//! rate limits, and errors that never carry the PAT or a token; a PAT or a GitHub App.

mod app_key;
mod app_token;
mod auth;
mod client;
mod error;
mod install_token;
mod jwt;
mod pagination;
mod retry;
mod scope;
mod secret;
mod stats;
mod timefmt;

pub use app_key::{load as load_app_key, KEY as APP_KEY_FILE_KEY};
pub use auth::{App, Auth};
pub use client::{
    GitHub, Label, Notify, Options, ProxySettings, Result, Runner, RunnerGroup, Token, API_VERSION,
    PER_PAGE, WRITE_CONCURRENCY,
};
pub use error::GitHubError;
pub use install_token::{cache_path as app_token_cache_path, InstallToken, RENEW_BEFORE_SECS};
pub use jwt::{sign as sign_jwt, Claims};
pub use pagination::{link_rel, pages_needed};
pub use retry::{backoff_delay, rate_limit_wait, RateLimitWait};
pub use scope::Scope;
pub use secret::Secret;
pub use stats::{endpoint_kind, error_kind, ApiStats, StatsSnapshot};
pub use timefmt::{format_utc, now_epoch, parse_rfc3339};
