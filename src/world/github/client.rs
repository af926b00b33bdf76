//! The blocking REST client for one scope's self-hosted runners: registration tokens, the
//! runner list, deleting a runner, its labels and its runner group.

use std::fmt;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use reqwest::blocking::Client as Http;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Auth;
use super::error::{describe_transport, GitHubError};
use super::pagination::link_rel;
use super::retry::{backoff_delay, jitter, next_attempt, rate_limit_wait};
use super::scope::Scope;
use super::secret::{scrub, Secret};
use super::timefmt::{format_utc, now_epoch, parse_rfc3339};

pub type Result<T, E = GitHubError> = std::result::Result<T, E>;

/// GitHub's largest page; fewer requests for big fleets.
pub const PER_PAGE: usize = 100;
/// The REST API version ghr is written against.
pub const API_VERSION: &str = "2022-11-28";
/// Parallel requests for bulk writes (deletes, labels, groups): far below GitHub's secondary
/// limit of 100 concurrent requests, enough to hide per-request latency for a few hundred
/// runners. A secondary limit that still trips is waited out (`retry-after`, else a minute
/// that doubles on repeats).
pub const WRITE_CONCURRENCY: usize = 8;
/// Pagination guard: 1000 pages of 100 is far beyond any real fleet.
const MAX_PAGES: usize = 1000;

/// Receives the one-line notices the client prints while it waits (rate limits).
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;
/// The updating line of a request that is being retried: `Some(text)` shows or updates it,
/// `None` clears it (the request ended, answered or failed).
pub type Status = Arc<dyn Fn(Option<&str>) + Send + Sync>;

/// Knobs of the client; `Default` is what ghr uses, tests shorten the waits.
#[derive(Clone)]
pub struct Options {
    pub connect_timeout: Duration,
    /// Whole request, connect to last byte of the body.
    pub timeout: Duration,
    /// Most retries after a 5xx answer, connection failure/reset or timeout; in practice
    /// `give_up_after` ends them first.
    pub max_retries: u32,
    /// The whole time of one request, retries included: no attempt starts later than a
    /// second before it, and an attempt's own timeout ends by it. An unresponsive GitHub
    /// fails within it, with one line; a blip of 5xx answers is ridden out.
    pub give_up_after: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Rate limits lifting within this wait are waited for (announced); later ones fail.
    pub max_rate_limit_wait: Duration,
    /// How many rate-limit waits one request may go through before giving up.
    pub max_rate_limit_waits: u32,
    /// Proxies from ghr's settings (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` of `.env` or the
    /// environment); nothing else is read behind ghr's back.
    pub proxy: ProxySettings,
    /// Where notices go; default: ghr's message module (stderr).
    pub notify: Notify,
    /// Counts of calls, failures and the rate limit, for a process that reports them
    /// (`ghr serve`); `None`: not counted.
    pub stats: Option<Arc<super::ApiStats>>,
    /// Where the retry line goes; default: ghr's updating status line.
    pub status: Status,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(8),
            max_retries: 20,
            give_up_after: Duration::from_secs(25),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(4),
            max_rate_limit_wait: Duration::from_secs(300),
            max_rate_limit_waits: 3,
            proxy: ProxySettings::default(),
            notify: Arc::new(|msg: &str| crate::world::notify::info(msg)),
            stats: None,
            status: Arc::new(|text: Option<&str>| crate::world::notify::status(text)),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("give_up_after", &self.give_up_after)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("max_rate_limit_waits", &self.max_rate_limit_waits)
            .field("proxy", &self.proxy)
            .field("stats", &self.stats.is_some())
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

/// A registration token and when GitHub lets it expire (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: Secret,
    pub expires_at: i64,
}

/// One label of a runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    /// GitHub's defaults (self-hosted, OS, architecture) are read-only; the rest are custom.
    pub read_only: bool,
}

/// A self-hosted runner as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    pub id: u64,
    pub name: String,
    pub os: String,
    /// `online` or `offline`.
    pub status: String,
    pub busy: bool,
    pub labels: Vec<Label>,
    /// Optional in GitHub's schema: `None` is "unknown", never "some other group".
    pub group_id: Option<u64>,
    /// A one-job runner (JIT or `config.sh --ephemeral`).
    pub ephemeral: bool,
}

/// A runner group of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerGroup {
    pub id: u64,
    pub name: String,
}

#[derive(Deserialize)]
struct JitJson {
    encoded_jit_config: String,
}

#[derive(Deserialize)]
struct TokenJson {
    token: String,
    expires_at: String,
}

#[derive(Deserialize)]
struct LabelJson {
    name: String,
    #[serde(default, rename = "type")]
    kind: String,
}

impl From<LabelJson> for Label {
    fn from(l: LabelJson) -> Self {
        Label {
            name: l.name,
            read_only: l.kind == "read-only",
        }
    }
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
    #[serde(default)]
    runner_group_id: Option<u64>,
    #[serde(default)]
    ephemeral: bool,
}

impl From<RunnerJson> for Runner {
    fn from(r: RunnerJson) -> Self {
        Runner {
            id: r.id,
            name: r.name,
            os: r.os,
            status: r.status,
            busy: r.busy,
            labels: r.labels.into_iter().map(Label::from).collect(),
            group_id: r.runner_group_id,
            ephemeral: r.ephemeral,
        }
    }
}

#[derive(Deserialize)]
struct LabelsPage {
    labels: Vec<LabelJson>,
}

#[derive(Deserialize)]
struct GroupJson {
    id: u64,
    name: String,
}

/// An answer read to the end.
pub(super) struct Reply {
    pub(super) status: u16,
    headers: HeaderMap,
    pub(super) body: String,
    /// How many attempts it took, and how long (for the message of a final 5xx).
    attempts: u32,
    took: Duration,
}

/// Clears the retry line when a request ends, however it ends.
struct StatusLine<'a> {
    status: &'a Status,
    shown: bool,
}

impl StatusLine<'_> {
    fn show(&mut self, text: &str) {
        (self.status)(Some(text));
        self.shown = true;
    }
}

impl Drop for StatusLine<'_> {
    fn drop(&mut self) {
        if self.shown {
            (self.status)(None);
        }
    }
}

/// What a failing request was about, to pick the right error for 404/422.
#[derive(Clone, Copy)]
enum Target<'a> {
    Scope,
    Runner { id: u64, name: &'a str },
}

/// The client. Cheap to share by reference across threads (`&GitHub` is `Sync`).
pub struct GitHub {
    http: Http,
    api: Url,
    /// `scheme://host[:port][/path]` without user info, for messages.
    api_shown: String,
    scope: Scope,
    /// The PAT or the GitHub App (see `auth.rs`): every request asks it for its token.
    pub(super) auth: Auth,
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
            .field("auth", &self.auth)
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
        GitHub::with_auth(api_url, scope, Auth::Pat(pat.into()), opts)
    }

    /// A client that authenticates as `auth`: a PAT, or a GitHub App.
    pub fn with_auth(api_url: &str, scope: Scope, auth: Auth, opts: Options) -> Result<GitHub> {
        let secrets = auth.secrets();
        let secrets: Vec<&Secret> = secrets.iter().collect();
        let bad_url = |message: &str| GitHubError::InvalidApiUrl {
            url: scrub(api_url, &secrets),
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
        if let Auth::Pat(pat) = &auth {
            bearer_header(pat).map_err(|_| GitHubError::InvalidPat)?;
        }

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
                message: scrub(&describe_transport(&e), &secrets),
            })?;
        Ok(GitHub {
            http,
            api,
            api_shown,
            scope,
            auth,
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
        let url = self.endpoint(&["registration-token"]);
        let reply = self.call(Method::POST, &url, Target::Scope, None)?;
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

    /// `POST .../actions/runners/generate-jitconfig`: a one-job (ephemeral) runner named
    /// `name`, created offline; its JIT configuration (a secret: the runner's credentials)
    /// goes to the runner as `ACTIONS_RUNNER_INPUT_JITCONFIG`.
    pub fn generate_jitconfig(
        &self,
        name: &str,
        group_id: u64,
        labels: &[String],
        work_folder: &str,
    ) -> Result<Secret> {
        let url = self.endpoint(&["generate-jitconfig"]);
        let body = serde_json::json!({
            "name": name,
            "runner_group_id": group_id,
            "labels": labels,
            "work_folder": work_folder,
        });
        let reply = self.call(Method::POST, &url, Target::Scope, Some(body))?;
        let json: JitJson = self.decode(&url, &reply.body)?;
        Ok(Secret::new(json.encoded_jit_config))
    }

    /// Every runner of the scope, following all pages (`per_page=100`, `Link: rel="next"`):
    /// N runners take ceil(N/100) requests (one when there are none).
    pub fn list_runners(&self) -> Result<Vec<Runner>> {
        let url = self.endpoint(&[]);
        let pages = self.pages(url, "runners")?;
        pages
            .into_iter()
            .map(|v| {
                serde_json::from_value::<RunnerJson>(v)
                    .map(Runner::from)
                    .map_err(|e| GitHubError::InvalidResponse {
                        path: "runners".into(),
                        message: e.to_string(),
                    })
            })
            .collect()
    }

    /// `DELETE .../actions/runners/{id}`. `RunnerBusy` only when GitHub says the runner is
    /// running a job; any other refusal keeps GitHub's own message.
    pub fn delete_runner(&self, id: u64, name: &str) -> Result<()> {
        let url = self.endpoint(&[&id.to_string()]);
        self.call(Method::DELETE, &url, Target::Runner { id, name }, None)
            .map(|_| ())
    }

    /// `PUT .../actions/runners/{id}/labels`: the runner's custom labels become `labels`
    /// (the read-only defaults stay). Returns every label it has now.
    pub fn set_labels(&self, id: u64, name: &str, labels: &[String]) -> Result<Vec<Label>> {
        let url = self.endpoint(&[&id.to_string(), "labels"]);
        let body = serde_json::json!({ "labels": labels });
        let reply = self.call(Method::PUT, &url, Target::Runner { id, name }, Some(body))?;
        let page: LabelsPage = self.decode(&url, &reply.body)?;
        Ok(page.labels.into_iter().map(Label::from).collect())
    }

    /// `GET /orgs/{org}/actions/runner-groups`, every page. Organizations only: a
    /// repository has none (`NotFound`, without asking).
    pub fn runner_groups(&self) -> Result<Vec<RunnerGroup>> {
        if self.scope.repo.is_some() {
            return Err(GitHubError::NotFound {
                scope: self.scope.clone(),
            });
        }
        let url = self.org_endpoint(&["runner-groups"]);
        self.pages(url, "runner_groups")?
            .into_iter()
            .map(|v| {
                serde_json::from_value::<GroupJson>(v)
                    .map(|g| RunnerGroup {
                        id: g.id,
                        name: g.name,
                    })
                    .map_err(|e| GitHubError::InvalidResponse {
                        path: "runner-groups".into(),
                        message: e.to_string(),
                    })
            })
            .collect()
    }

    /// `PUT /orgs/{org}/actions/runner-groups/{group}/runners/{runner}`: moves the runner.
    pub fn set_runner_group(&self, group_id: u64, id: u64, name: &str) -> Result<()> {
        let url = self.org_endpoint(&[
            "runner-groups",
            &group_id.to_string(),
            "runners",
            &id.to_string(),
        ]);
        self.call(Method::PUT, &url, Target::Runner { id, name }, None)
            .map(|_| ())
    }

    /// Every item under `key` of every page, starting at `url`.
    fn pages(&self, mut url: Url, key: &str) -> Result<Vec<Value>> {
        url.query_pairs_mut()
            .append_pair("per_page", &PER_PAGE.to_string());
        let mut items = Vec::new();
        for page in 1..=MAX_PAGES {
            let reply = self.call(Method::GET, &url, Target::Scope, None)?;
            let mut body: Value = self.decode(&url, &reply.body)?;
            let total = body["total_count"].as_u64().unwrap_or(0) as usize;
            let got = match body.get_mut(key).map(Value::take) {
                Some(Value::Array(list)) => {
                    let n = list.len();
                    items.extend(list);
                    n
                }
                _ => {
                    return Err(GitHubError::InvalidResponse {
                        path: url.path().to_owned(),
                        message: format!("no `{key}` list in the answer"),
                    })
                }
            };
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
                None if got > 0 && items.len() < total => {
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
                None => return Ok(items),
            };
        }
        Err(GitHubError::InvalidResponse {
            path: url.path().to_owned(),
            message: format!("more than {MAX_PAGES} pages"),
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

    /// `{api}/orgs/{org}/actions/{tail...}`.
    fn org_endpoint(&self, tail: &[&str]) -> Url {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .expect("checked in new(): the API URL can be a base")
            .pop_if_empty()
            .extend(["orgs", self.scope.org.as_str(), "actions"])
            .extend(tail);
        url
    }

    /// `{api}/{segments...}`.
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .expect("checked in new(): the API URL can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    pub(super) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
        body: &str,
    ) -> Result<T> {
        serde_json::from_str(body).map_err(|e| GitHubError::InvalidResponse {
            path: url.path().to_owned(),
            message: self.scrub(&e.to_string()),
        })
    }

    /// `text` with the PAT or the App's token blanked out.
    fn scrub(&self, text: &str) -> String {
        let secrets = self.auth.secrets();
        scrub(text, &secrets.iter().collect::<Vec<_>>())
    }

    /// Sends, retries what is transient, waits out rate limits, and maps a non-2xx answer to
    /// its error, keeping GitHub's own message.
    fn call(
        &self,
        method: Method,
        url: &Url,
        target: Target<'_>,
        body: Option<Value>,
    ) -> Result<Reply> {
        let bearer = self.bearer()?;
        let mut reply = self.send_as(&method, url, body.as_ref(), &bearer)?;
        // An App's token GitHub no longer takes (revoked, expired early): one new one.
        if reply.status == 401 && self.forget_bearer(&bearer) {
            let bearer = self.bearer()?;
            reply = self.send_as(&method, url, body.as_ref(), &bearer)?;
        }
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        let mut message = self.scrub(&github_message(&reply.body));
        if reply.status >= 500 && reply.attempts > 1 {
            message = format!(
                "{message} ({} attempts in {} s)",
                reply.attempts,
                reply.took.as_secs()
            );
        }
        if let Auth::App(app) = &self.auth {
            match reply.status {
                401 => return Err(GitHubError::AppBadCredentials { app: app.shown() }),
                403 if rate_limit_wait(403, &reply.headers, &reply.body, now_epoch(), 0)
                    .is_none() =>
                {
                    return Err(GitHubError::AppForbidden {
                        scope: self.scope.clone(),
                        message,
                    })
                }
                _ => {}
            }
        }
        Err(match (reply.status, target) {
            (401, _) => GitHubError::BadCredentials,
            (403, _) => match sso_url(&reply.headers) {
                Some(url) => GitHubError::SsoRequired {
                    scope: self.scope.clone(),
                    url,
                },
                None => GitHubError::Forbidden {
                    scope: self.scope.clone(),
                    message,
                    granted: reply
                        .headers
                        .get("x-oauth-scopes")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                },
            },
            (404, Target::Runner { id, .. }) => GitHubError::RunnerNotFound {
                scope: self.scope.clone(),
                id,
            },
            (404, Target::Scope) => GitHubError::NotFound {
                scope: self.scope.clone(),
            },
            // GitHub answers 422 for a runner that runs a job, and for other refusals too.
            (422, Target::Runner { name, .. })
                if method == Method::DELETE && is_busy_message(&message) =>
            {
                GitHubError::RunnerBusy {
                    runner: name.to_owned(),
                }
            }
            (status, _) => GitHubError::Unexpected {
                status,
                method: method.to_string(),
                path: url.path().to_owned(),
                message,
            },
        })
    }

    /// Sends with `bearer` as the credential, retrying what is transient and waiting out
    /// rate limits; the answer, whatever its status.
    pub(super) fn send_as(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        bearer: &Secret,
    ) -> Result<Reply> {
        let auth = bearer_header(bearer).map_err(|_| match self.auth {
            Auth::Pat(_) => GitHubError::InvalidPat,
            Auth::App(_) => GitHubError::InvalidResponse {
                path: url.path().to_owned(),
                message: "GitHub's installation token cannot be sent in a header".into(),
            },
        })?;
        let started = Instant::now();
        let mut retries = 0u32;
        let mut waits = 0u32;
        let mut line = StatusLine {
            status: &self.opts.status,
            shown: false,
        };
        loop {
            // No request starts once the command is interrupted; one in flight is waited for.
            let _effect = crate::world::cancel::effect().map_err(|_| GitHubError::Interrupted)?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, auth.clone());
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(stats) = &self.opts.stats {
                stats.call(method.as_str(), url.path());
            }
            // The attempt ends by the request's budget (given at least a second).
            let left = self.opts.give_up_after.saturating_sub(started.elapsed());
            request = request.timeout(self.opts.timeout.min(left.max(Duration::from_secs(1))));
            let outcome = request.send().and_then(|resp| {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.text()?;
                Ok(Reply {
                    status,
                    headers,
                    body,
                    attempts: retries + 1,
                    took: started.elapsed(),
                })
            });
            if let Some(stats) = &self.opts.stats {
                match &outcome {
                    Ok(reply) => stats.answer(reply.status, &reply.headers),
                    Err(_) => stats.network_error(),
                }
            }
            // What went wrong, and the answer to return when it is not retried.
            let (failure, reply) = match outcome {
                Ok(reply) if reply.status == 403 || reply.status == 429 => {
                    let Some(rl) = rate_limit_wait(
                        reply.status,
                        &reply.headers,
                        &reply.body,
                        now_epoch(),
                        waits,
                    ) else {
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
                            "GitHub's {} rate limit is reached; waiting {} s until {}",
                            rl.kind,
                            rl.wait.as_secs(),
                            format_utc(rl.reset_at)
                        ));
                    }
                    thread::sleep(rl.wait);
                    waits += 1;
                    continue;
                }
                Ok(reply) if reply.status >= 500 => (
                    format!("GitHub answered HTTP {}", reply.status),
                    Some(reply),
                ),
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    let transient =
                        e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
                    let message = scrub(&describe_transport(&e), &[bearer]);
                    if !transient {
                        return Err(self.network(message, retries, started));
                    }
                    (message, None)
                }
            };
            let delay = backoff_delay(
                retries,
                self.opts.backoff_base,
                self.opts.backoff_max,
                jitter(),
            );
            let Some(delay) = next_attempt(
                retries,
                self.opts.max_retries,
                started.elapsed(),
                self.opts.give_up_after,
                delay,
            ) else {
                return match reply {
                    Some(reply) => Ok(reply),
                    None => Err(self.network(failure, retries, started)),
                };
            };
            line.show(&format!(
                "{method} {}: {failure}; trying again in {:.1} s (attempt {}; ghr gives up after {} s)",
                url.path(),
                delay.as_secs_f64(),
                retries + 2,
                self.opts.give_up_after.as_secs()
            ));
            thread::sleep(delay);
            retries += 1;
        }
    }

    /// A transport failure after `retries` retries, as one line.
    fn network(&self, message: String, retries: u32, started: Instant) -> GitHubError {
        let attempts = match retries {
            0 => String::new(),
            n => format!(" ({} attempts in {} s)", n + 1, started.elapsed().as_secs()),
        };
        GitHubError::Network {
            api: self.api_shown.clone(),
            message: format!("{message}{attempts}"),
        }
    }
}

/// The authorization URL of `X-GitHub-SSO: required; url=...`, when SAML SSO is the reason.
fn sso_url(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-github-sso")?.to_str().ok()?;
    let mut parts = value.split(';').map(str::trim);
    if parts.next()? != "required" {
        return None;
    }
    Some(
        parts
            .find_map(|p| p.strip_prefix("url="))
            .unwrap_or("")
            .to_owned(),
    )
}

/// GitHub's wording when it refuses to delete a runner that is running a job.
fn is_busy_message(message: &str) -> bool {
    message.to_ascii_lowercase().contains("running a job")
}

/// `Bearer <token>`, marked sensitive (reqwest/hyper leave it out of Debug output); an error
/// when the token holds what a header cannot carry.
fn bearer_header(token: &Secret) -> std::result::Result<HeaderValue, ()> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| ())?;
    value.set_sensitive(true);
    Ok(value)
}

/// GitHub's `{"message": ...}`, or the start of a non-JSON body, on one line.
pub(super) fn github_message(body: &str) -> String {
    let text = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sso_header_is_read() {
        let mut h = HeaderMap::new();
        assert_eq!(sso_url(&h), None);
        h.insert(
            "x-github-sso",
            "required; url=https://github.com/orgs/acme/sso?authorization_request=X"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            sso_url(&h).as_deref(),
            Some("https://github.com/orgs/acme/sso?authorization_request=X")
        );
        h.insert(
            "x-github-sso",
            "partial-results; organizations=1,2".parse().unwrap(),
        );
        assert_eq!(sso_url(&h), None);
    }

    #[test]
    fn busy_only_when_github_says_a_job_runs() {
        assert!(is_busy_message(
            "Bad request - Runner \"x\" is still running a job\""
        ));
        assert!(!is_busy_message("Validation Failed"));
    }
}
