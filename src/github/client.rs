//! The blocking REST client for one scope's self-hosted runners.

use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use reqwest::blocking::Client as Http;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, Url};
use serde::Deserialize;

use super::error::{describe_transport, GitHubError};
use super::pagination::link_rel;
use super::retry::{backoff_delay, jitter, rate_limit_wait};
use super::scope::Scope;
use super::secret::{scrub, Secret};
use super::timefmt::{format_utc, now_epoch, parse_rfc3339};
use crate::concurrent::map_bounded;

pub type Result<T, E = GitHubError> = std::result::Result<T, E>;

/// GitHub's largest page; fewer requests for big fleets.
pub const PER_PAGE: usize = 100;
/// The REST API version ghr is written against.
pub const API_VERSION: &str = "2022-11-28";
/// Parallel requests for bulk operations: well below GitHub's secondary limit of 100
/// concurrent requests, and enough to hide per-request latency for a few hundred runners.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Pagination guard: 1000 pages of 100 is far beyond any real fleet.
const MAX_PAGES: usize = 1000;

/// Receives the one-line notices the client prints while it waits (rate limits).
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// Knobs of the client; `Default` is what ghr uses, tests shorten the waits.
#[derive(Clone)]
pub struct Options {
    pub connect_timeout: Duration,
    /// Whole request, connect to last byte of the body.
    pub timeout: Duration,
    /// Retries after a 5xx answer, connection failure/reset or timeout (so `max_retries + 1`
    /// attempts in all).
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Rate limits lifting within this wait are waited for; later ones fail the request.
    pub max_rate_limit_wait: Duration,
    /// How many rate-limit waits one request may go through before giving up.
    pub max_rate_limit_waits: u32,
    /// Proxies from ghr's settings (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` of `.env` or the
    /// environment); nothing else is read behind ghr's back.
    pub proxy: ProxySettings,
    /// Where waiting notices go; default: stderr, prefixed `ghr: `.
    pub notify: Notify,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_rate_limit_wait: Duration::from_secs(60),
            max_rate_limit_waits: 3,
            proxy: ProxySettings::default(),
            notify: Arc::new(|msg: &str| eprintln!("ghr: {msg}")),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("max_rate_limit_waits", &self.max_rate_limit_waits)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// Where requests go through, by scheme of the API URL; `no_proxy` lists the hosts that are
/// reached directly (curl's syntax: comma-separated names, domains, IPs, CIDRs, `*`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    pub http: Option<String>,
    pub https: Option<String>,
    pub no_proxy: Option<String>,
}

impl fmt::Debug for ProxySettings {
    // A proxy URL may carry a password: show only whether each is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxySettings")
            .field("http", &self.http.is_some())
            .field("https", &self.https.is_some())
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxySettings {
    fn apply(
        &self,
        mut builder: reqwest::blocking::ClientBuilder,
    ) -> Result<reqwest::blocking::ClientBuilder> {
        // Only what ghr's settings say: no second guess from the process environment.
        builder = builder.no_proxy();
        let no_proxy = self
            .no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string);
        for (key, url, https) in [
            ("HTTP_PROXY", &self.http, false),
            ("HTTPS_PROXY", &self.https, true),
        ] {
            if let Some(url) = url {
                let made = if https {
                    reqwest::Proxy::https(url.as_str())
                } else {
                    reqwest::Proxy::http(url.as_str())
                };
                let proxy = made.map_err(|e| GitHubError::InvalidProxy {
                    key,
                    message: e.to_string(),
                })?;
                builder = builder.proxy(proxy.no_proxy(no_proxy.clone()));
            }
        }
        Ok(builder)
    }
}

/// A registration or remove token and when GitHub lets it expire (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: Secret,
    pub expires_at: i64,
}

/// A self-hosted runner as GitHub lists it; `labels` are the label names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    pub id: u64,
    pub name: String,
    pub os: String,
    /// `online` or `offline`.
    pub status: String,
    pub busy: bool,
    pub labels: Vec<String>,
}

impl Runner {
    pub fn is_online(&self) -> bool {
        self.status.eq_ignore_ascii_case("online")
    }
}

/// What happened to one runner of [`GitHub::unregister_many`] / [`GitHub::delete_runners`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unregistered {
    /// Deleted now.
    Removed,
    /// No runner of that name is registered; nothing to do.
    NotRegistered,
    /// Listed, but gone by the time we deleted it (someone else removed it).
    AlreadyGone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnregisterOutcome {
    pub name: String,
    pub id: Option<u64>,
    /// `Err(GitHubError::RunnerBusy)` when it is running a job; other runners still proceed.
    pub result: Result<Unregistered>,
}

impl UnregisterOutcome {
    pub fn is_busy(&self) -> bool {
        matches!(self.result, Err(GitHubError::RunnerBusy { .. }))
    }
}

#[derive(Deserialize)]
struct TokenJson {
    token: String,
    expires_at: String,
}

#[derive(Deserialize)]
struct LabelJson {
    name: String,
}

#[derive(Deserialize)]
struct RunnerJson {
    id: u64,
    name: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    busy: bool,
    #[serde(default)]
    labels: Vec<LabelJson>,
}

impl From<RunnerJson> for Runner {
    fn from(r: RunnerJson) -> Self {
        Runner {
            id: r.id,
            name: r.name,
            os: r.os,
            status: r.status,
            busy: r.busy,
            labels: r.labels.into_iter().map(|l| l.name).collect(),
        }
    }
}

#[derive(Deserialize)]
struct RunnerPage {
    #[serde(default)]
    total_count: usize,
    runners: Vec<RunnerJson>,
}

/// An answer read to the end.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// What a failing request was about, to pick the right error for 404/422.
#[derive(Clone, Copy)]
enum Target<'a> {
    Scope,
    Runner { id: u64, name: Option<&'a str> },
}

/// The client. Cheap to share by reference across threads (`&GitHub` is `Sync`).
pub struct GitHub {
    http: Http,
    api: Url,
    /// `scheme://host[:port][/path]` without user info, for messages.
    api_shown: String,
    scope: Scope,
    pat: Secret,
    opts: Options,
    /// Reset time of the last rate-limit notice, so parallel workers hitting the same
    /// limit say it once.
    last_notice: std::sync::Mutex<i64>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api", &self.api_shown)
            .field("scope", &self.scope)
            .field("pat", &self.pat)
            .field("opts", &self.opts)
            .finish()
    }
}

impl GitHub {
    /// A client for `scope` at `api_url` (`GITHUB_API_URL`, e.g. `https://api.github.com`).
    pub fn new(api_url: &str, scope: Scope, pat: impl Into<Secret>) -> Result<GitHub> {
        GitHub::with_options(api_url, scope, pat, Options::default())
    }

    pub fn with_options(
        api_url: &str,
        scope: Scope,
        pat: impl Into<Secret>,
        opts: Options,
    ) -> Result<GitHub> {
        let pat = pat.into();
        let bad_url = |message: &str| GitHubError::InvalidApiUrl {
            url: scrub(api_url, &[&pat]),
            message: message.to_owned(),
        };
        let mut api = Url::parse(api_url.trim()).map_err(|e| bad_url(&e.to_string()))?;
        if !matches!(api.scheme(), "http" | "https") || api.cannot_be_a_base() {
            return Err(bad_url("expected an http:// or https:// URL"));
        }
        // Credentials belong in GH_PAT, not in the URL, where messages would show them.
        let _ = api.set_username("");
        let _ = api.set_password(None);
        api.set_query(None);
        api.set_fragment(None);
        let api_shown = api.as_str().trim_end_matches('/').to_owned();

        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", pat.expose()))
            .map_err(|_| GitHubError::InvalidPat)?;
        // Sensitive: reqwest/hyper leave it out of Debug output.
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);

        let http = opts
            .proxy
            .apply(Http::builder())?
            .user_agent(concat!("ghr/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            .build()
            .map_err(|e| GitHubError::Network {
                api: api_shown.clone(),
                message: scrub(&describe_transport(&e), &[&pat]),
            })?;
        Ok(GitHub {
            http,
            api,
            api_shown,
            scope,
            pat,
            opts,
            last_notice: std::sync::Mutex::new(i64::MIN),
        })
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The API base URL as shown in messages (no user info).
    pub fn api_url(&self) -> &str {
        &self.api_shown
    }

    /// `POST .../actions/runners/registration-token`: a token for `config.sh`, valid one hour.
    pub fn registration_token(&self) -> Result<Token> {
        self.token("registration-token")
    }

    /// `POST .../actions/runners/remove-token`: a token for `config.sh remove`.
    pub fn remove_token(&self) -> Result<Token> {
        self.token("remove-token")
    }

    /// Every runner of the scope, following all pages (`per_page=100`, `Link: rel="next"`):
    /// N runners take ceil(N/100) requests (one when there are none).
    pub fn list_runners(&self) -> Result<Vec<Runner>> {
        self.list(None)
    }

    /// The runner called `name`, found with the list endpoint's `name` filter.
    pub fn runner_by_name(&self, name: &str) -> Result<Option<Runner>> {
        Ok(self.list(Some(name))?.into_iter().find(|r| r.name == name))
    }

    /// `GET .../actions/runners/{id}`.
    pub fn runner(&self, id: u64) -> Result<Runner> {
        let url = self.endpoint(&[&id.to_string()]);
        let reply = self.call(Method::GET, &url, Target::Runner { id, name: None })?;
        let json: RunnerJson = self.decode(&url, &reply.body)?;
        Ok(json.into())
    }

    /// `DELETE .../actions/runners/{id}`; `RunnerBusy` while it runs a job.
    pub fn delete_runner(&self, id: u64) -> Result<()> {
        self.delete(id, None)
    }

    /// Deletes the given runners, at most `concurrency` requests at a time, one request
    /// each. Never stops early: every runner gets its outcome, in input order.
    pub fn delete_runners(&self, runners: &[Runner], concurrency: usize) -> Vec<UnregisterOutcome> {
        map_bounded(runners, concurrency, |r| UnregisterOutcome {
            name: r.name.clone(),
            id: Some(r.id),
            result: match self.delete(r.id, Some(&r.name)) {
                Ok(()) => Ok(Unregistered::Removed),
                Err(GitHubError::RunnerNotFound { .. }) => Ok(Unregistered::AlreadyGone),
                Err(e) => Err(e),
            },
        })
    }

    /// Unregisters the runners called `names`: one listing of the scope (ceil(N/100)
    /// requests) and one delete per runner found, `concurrency` at a time. Fails only when
    /// the listing fails; per-runner failures (e.g. busy) are in the outcomes, in input order.
    pub fn unregister_many<S>(
        &self,
        names: &[S],
        concurrency: usize,
    ) -> Result<Vec<UnregisterOutcome>>
    where
        S: AsRef<str> + Sync,
    {
        let listed = self.list_runners()?;
        let by_name: std::collections::HashMap<&str, &Runner> =
            listed.iter().map(|r| (r.name.as_str(), r)).collect();
        let found: Vec<Runner> = names
            .iter()
            .filter_map(|n| by_name.get(n.as_ref()).map(|r| (*r).clone()))
            .collect();
        let mut deleted = self.delete_runners(&found, concurrency).into_iter();
        Ok(names
            .iter()
            .map(|n| {
                if by_name.contains_key(n.as_ref()) {
                    deleted.next().expect("one outcome per runner found")
                } else {
                    UnregisterOutcome {
                        name: n.as_ref().to_owned(),
                        id: None,
                        result: Ok(Unregistered::NotRegistered),
                    }
                }
            })
            .collect())
    }

    fn token(&self, kind: &str) -> Result<Token> {
        let url = self.endpoint(&[kind]);
        let reply = self.call(Method::POST, &url, Target::Scope)?;
        let json: TokenJson = self.decode(&url, &reply.body)?;
        let expires_at =
            parse_rfc3339(&json.expires_at).ok_or_else(|| GitHubError::InvalidResponse {
                path: url.path().to_owned(),
                message: format!("`expires_at` is not an RFC 3339 time: {}", json.expires_at),
            })?;
        Ok(Token {
            token: Secret::new(json.token),
            expires_at,
        })
    }

    fn delete(&self, id: u64, name: Option<&str>) -> Result<()> {
        let url = self.endpoint(&[&id.to_string()]);
        self.call(Method::DELETE, &url, Target::Runner { id, name })
            .map(|_| ())
    }

    fn list(&self, name: Option<&str>) -> Result<Vec<Runner>> {
        let mut url = self.endpoint(&[]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("per_page", &PER_PAGE.to_string());
            if let Some(n) = name {
                q.append_pair("name", n);
            }
        }
        let mut runners = Vec::new();
        for page in 1..=MAX_PAGES {
            let reply = self.call(Method::GET, &url, Target::Scope)?;
            let body: RunnerPage = self.decode(&url, &reply.body)?;
            let got = body.runners.len();
            runners.extend(body.runners.into_iter().map(Runner::from));
            let next = reply
                .headers
                .get_all(reqwest::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|v| link_rel(v, "next"));
            url = match next {
                Some(next) => self.same_origin(&url, &next)?,
                // No Link but more to come: ask for the next page ourselves rather than
                // silently stopping (the shell tool's bug).
                None if got > 0 && runners.len() < body.total_count => {
                    let mut u = url.clone();
                    let pairs: Vec<(String, String)> = u
                        .query_pairs()
                        .filter(|(k, _)| k != "page")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    u.query_pairs_mut()
                        .clear()
                        .extend_pairs(pairs)
                        .append_pair("page", &(page + 1).to_string());
                    u
                }
                None => return Ok(runners),
            };
        }
        Err(GitHubError::InvalidResponse {
            path: url.path().to_owned(),
            message: format!("more than {MAX_PAGES} pages of runners"),
        })
    }

    /// The PAT goes only to the configured API host: a `Link` elsewhere is refused.
    fn same_origin(&self, current: &Url, next: &str) -> Result<Url> {
        let next = current
            .join(next)
            .map_err(|e| GitHubError::InvalidResponse {
                path: current.path().to_owned(),
                message: format!("bad pagination link: {e}"),
            })?;
        if next.origin() != self.api.origin() {
            return Err(GitHubError::InvalidResponse {
                path: current.path().to_owned(),
                message: "pagination link points to another host; not following it".into(),
            });
        }
        Ok(next)
    }

    /// `{api}/{orgs/o | repos/o/r}/actions/runners/{tail...}`.
    fn endpoint(&self, tail: &[&str]) -> Url {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .expect("checked in new(): the API URL can be a base")
            .pop_if_empty()
            .extend(self.scope.path_segments())
            .extend(["actions", "runners"])
            .extend(tail);
        url
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, url: &Url, body: &str) -> Result<T> {
        serde_json::from_str(body).map_err(|e| GitHubError::InvalidResponse {
            path: url.path().to_owned(),
            message: scrub(&e.to_string(), &[&self.pat]),
        })
    }

    /// Sends, retries what is transient, waits out near rate limits, and maps a non-2xx
    /// answer to its error.
    fn call(&self, method: Method, url: &Url, target: Target<'_>) -> Result<Reply> {
        let reply = self.send(&method, url)?;
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        Err(match (reply.status, target) {
            (401, _) => GitHubError::BadCredentials,
            (403, _) => GitHubError::Forbidden {
                scope: self.scope.clone(),
            },
            (404, Target::Runner { id, .. }) => GitHubError::RunnerNotFound {
                scope: self.scope.clone(),
                id,
            },
            (404, Target::Scope) => GitHubError::NotFound {
                scope: self.scope.clone(),
            },
            (422, Target::Runner { id, name }) if method == Method::DELETE => {
                GitHubError::RunnerBusy {
                    runner: name.map_or_else(|| format!("id {id}"), str::to_owned),
                }
            }
            (status, _) => GitHubError::Unexpected {
                status,
                method: method.to_string(),
                path: url.path().to_owned(),
                message: scrub(&github_message(&reply.body), &[&self.pat]),
            },
        })
    }

    fn send(&self, method: &Method, url: &Url) -> Result<Reply> {
        let mut retries = 0u32;
        let mut waits = 0u32;
        loop {
            let outcome = self
                .http
                .request(method.clone(), url.clone())
                .send()
                .and_then(|resp| {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let body = resp.text()?;
                    Ok(Reply {
                        status,
                        headers,
                        body,
                    })
                });
            match outcome {
                Ok(reply) if reply.status >= 500 && retries < self.opts.max_retries => {}
                Ok(reply) if reply.status == 403 || reply.status == 429 => {
                    let Some(rl) =
                        rate_limit_wait(reply.status, &reply.headers, &reply.body, now_epoch())
                    else {
                        return Ok(reply);
                    };
                    if rl.wait > self.opts.max_rate_limit_wait
                        || waits >= self.opts.max_rate_limit_waits
                    {
                        return Err(GitHubError::RateLimited {
                            reset_at: rl.reset_at,
                        });
                    }
                    let first = {
                        let mut last = self.last_notice.lock().unwrap_or_else(|e| e.into_inner());
                        std::mem::replace(&mut *last, rl.reset_at) != rl.reset_at
                    };
                    if first {
                        (self.opts.notify)(&format!(
                            "GitHub API rate limit reached; waiting {} s until {}",
                            rl.wait.as_secs(),
                            format_utc(rl.reset_at)
                        ));
                    }
                    thread::sleep(rl.wait);
                    waits += 1;
                    continue;
                }
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    let transient =
                        e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
                    if !transient || retries >= self.opts.max_retries {
                        return Err(GitHubError::Network {
                            api: self.api_shown.clone(),
                            message: scrub(&describe_transport(&e), &[&self.pat]),
                        });
                    }
                }
            }
            thread::sleep(backoff_delay(
                retries,
                self.opts.backoff_base,
                self.opts.backoff_max,
                jitter(),
            ));
            retries += 1;
        }
    }
}

/// GitHub's `{"message": ...}`, or the start of a non-JSON body, on one line.
fn github_message(body: &str) -> String {
    let text = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
}
