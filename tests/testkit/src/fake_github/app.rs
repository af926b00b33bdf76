//! GitHub Apps, as GitHub serves them to an App that authenticates itself: an App has an id,
//! a client id, a public key and permissions, and is installed on organizations or
//! repositories. Its JWT (RS256, checked against the App's public key; `iat`, `exp` no more
//! than 10 minutes ahead and not past, `iss` the App id or client id) finds an installation
//! (`GET /orgs/{org}/installation`, `GET /repos/{o}/{r}/installation`) and mints installation
//! tokens (`POST /app/installations/{id}/access_tokens`): `ghs_...` tokens that really expire
//! (one hour, settable) and that the runner endpoints accept as `Bearer`/`token`, within the
//! installation and its permissions (`organization_self_hosted_runners` for organization
//! runners, `administration` for repository runners; else GitHub's 403).

use super::reply::{Reply, Req};
use super::types::ScopeKey;
use super::{FakeGitHub, Scope, Shared};
use crate::timefmt::{rfc3339, unix_now};
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

/// GitHub's limit on a JWT's `exp`, from now.
pub const MAX_JWT_LIFETIME_SECS: i64 = 600;

#[derive(Debug)]
struct App {
    id: u64,
    client_id: String,
    /// PKCS#1 `RSAPublicKey` DER.
    public_key: Vec<u8>,
    permissions: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Installation {
    app: u64,
    target: ScopeKey,
    /// Suspended by an owner: still listed (with `suspended_at`), but GitHub mints no token.
    suspended_at: Option<SystemTime>,
}

#[derive(Debug)]
struct Issued {
    installation: u64,
    expires: SystemTime,
}

/// The Apps of the fake, kept in its state.
#[derive(Debug)]
pub(crate) struct Apps {
    apps: Vec<App>,
    installations: BTreeMap<u64, Installation>,
    tokens: HashMap<String, Issued>,
    ttl: Duration,
    next_installation: u64,
}

impl Default for Apps {
    fn default() -> Self {
        Apps {
            apps: Vec::new(),
            installations: BTreeMap::new(),
            tokens: HashMap::new(),
            ttl: Duration::from_secs(3600),
            next_installation: 1000,
        }
    }
}

impl FakeGitHub {
    /// Registers a GitHub App: `public_key` is its public key (PEM `PUBLIC KEY` or
    /// `RSA PUBLIC KEY`, or the DER of either), as GitHub keeps it; `permissions` like
    /// `[("organization_self_hosted_runners", "write")]`.
    pub fn add_app(
        &self,
        id: u64,
        client_id: &str,
        public_key: &[u8],
        permissions: &[(&str, &str)],
    ) {
        let public_key = rsa_public_key(public_key).expect("an RSA public key (PEM or DER)");
        self.with(|st| {
            st.apps.apps.push(App {
                id,
                client_id: client_id.to_string(),
                public_key,
                permissions: permissions
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            })
        });
    }

    /// Installs App `id` on an organization (all its repositories) or one repository;
    /// returns the installation id.
    pub fn install_app(&self, id: u64, target: &Scope) -> u64 {
        self.with(|st| {
            let apps = &mut st.apps;
            apps.next_installation += 1;
            let installation = apps.next_installation;
            apps.installations.insert(
                installation,
                Installation {
                    app: id,
                    target: target.key(),
                    suspended_at: None,
                },
            );
            installation
        })
    }

    /// Suspends installation `id` (an owner did, in the org's settings), or unsuspends it.
    pub fn suspend_installation(&self, id: u64, suspended: bool) {
        self.with(|st| {
            if let Some(inst) = st.apps.installations.get_mut(&id) {
                inst.suspended_at = suspended.then(SystemTime::now);
            }
        });
    }

    /// Lifetime of the installation tokens minted from now on (GitHub's: one hour).
    pub fn set_installation_token_ttl(&self, ttl: Duration) {
        self.with(|st| st.apps.ttl = ttl);
    }

    /// Every installation token issued so far expires now (GitHub answers 401 to it), as if
    /// its hour had passed or it had been revoked; the holder does not know.
    pub fn expire_installation_tokens(&self) {
        let now = SystemTime::now() - Duration::from_secs(1);
        self.with(|st| {
            for issued in st.apps.tokens.values_mut() {
                issued.expires = issued.expires.min(now);
            }
        });
    }
}

/// The App whose JWT `req` carries, after GitHub's checks; else GitHub's 401.
fn authenticate<'a>(apps: &'a Apps, req: &Req) -> Result<&'a App, Reply> {
    let undecodable = || Reply::error(401, "A JSON web token could not be decoded");
    let jwt = req
        .auth(&["bearer"])
        .ok_or_else(|| Reply::error(401, "A JSON web token could not be decoded"))?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(undecodable());
    };
    let decode_json =
        |part: &str| -> Option<Value> { serde_json::from_slice(&base64_decode(part)?).ok() };
    let (Some(header_json), Some(claims), Some(signature)) = (
        decode_json(header),
        decode_json(payload),
        base64_decode(signature),
    ) else {
        return Err(undecodable());
    };
    if header_json["alg"] != "RS256" {
        return Err(undecodable());
    }
    let app = apps
        .apps
        .iter()
        .find(|a| match &claims["iss"] {
            Value::Number(n) => n.as_u64() == Some(a.id),
            Value::String(s) => *s == a.client_id || s.parse::<u64>().ok() == Some(a.id),
            _ => false,
        })
        .ok_or_else(|| {
            Reply::error(
                401,
                "'Issuer' claim ('iss') must be an Integer or the App's client ID of an existing App",
            )
        })?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &app.public_key)
        .verify(format!("{header}.{payload}").as_bytes(), &signature)
        .map_err(|_| undecodable())?;
    let now = unix_now() as i64;
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(undecodable());
    };
    if exp <= now {
        return Err(Reply::error(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        ));
    }
    if exp > now + MAX_JWT_LIFETIME_SECS {
        return Err(Reply::error(
            401,
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    if iat > now + 60 || iat >= exp {
        return Err(Reply::error(
            401,
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        ));
    }
    Ok(app)
}

fn covers(installed: &ScopeKey, scope: &ScopeKey) -> bool {
    match installed {
        ScopeKey::Org(o) => scope.org() == o,
        ScopeKey::Repo(..) => installed == scope,
    }
}

fn installation_json(id: u64, inst: &Installation, app: &App) -> Value {
    let (login, target_type) = match &inst.target {
        ScopeKey::Org(o) | ScopeKey::Repo(o, _) => (o.clone(), "Organization"),
    };
    json!({
        "id": id,
        "app_id": app.id,
        "client_id": app.client_id,
        "account": {"login": login, "type": target_type},
        "target_type": target_type,
        "repository_selection": if matches!(inst.target, ScopeKey::Org(_)) { "all" } else { "selected" },
        "permissions": app.permissions,
        "access_tokens_url": format!("/app/installations/{id}/access_tokens"),
        "suspended_at": inst.suspended_at.map(|t| rfc3339(t, 0)),
    })
}

/// `GET /orgs/{org}/installation`, `GET /repos/{o}/{r}/installation`.
pub(crate) fn installation(sh: &Shared, req: &Req, scope: ScopeKey) -> Reply {
    let st = sh.lock();
    let app = match authenticate(&st.apps, req) {
        Ok(app) => app,
        Err(reply) => return reply,
    };
    if req.method != "GET" {
        return Reply::not_found();
    }
    // The repository's own installation first, then its organization's.
    let found = st
        .apps
        .installations
        .iter()
        .filter(|(_, i)| i.app == app.id && covers(&i.target, &scope))
        .min_by_key(|(_, i)| matches!(i.target, ScopeKey::Org(_)));
    match found {
        Some((id, inst)) if st.scope_exists(&scope) => {
            Reply::json(200, installation_json(*id, inst, app))
        }
        _ => Reply::not_found(),
    }
}

/// `POST /app/installations/{id}/access_tokens`.
pub(crate) fn access_tokens(sh: &Shared, req: &Req, id: &str) -> Reply {
    let mut st = sh.lock();
    let app = match authenticate(&st.apps, req) {
        Ok(app) => app,
        Err(reply) => return reply,
    };
    let Some(installation) = id.parse::<u64>().ok().filter(|id| {
        st.apps
            .installations
            .get(id)
            .is_some_and(|i| i.app == app.id)
    }) else {
        return Reply::not_found();
    };
    if req.method != "POST" {
        return Reply::not_found();
    }
    if st.apps.installations[&installation].suspended_at.is_some() {
        return Reply::json(
            403,
            json!({
                "message": "This installation has been suspended",
                "documentation_url": "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app",
                "status": "403",
            }),
        );
    }
    let permissions: Map<String, Value> = app
        .permissions
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let selection = match st.apps.installations[&installation].target {
        ScopeKey::Org(_) => "all",
        ScopeKey::Repo(..) => "selected",
    };
    let token = format!("ghs_{}", st.token(36));
    let expires = SystemTime::now() + st.apps.ttl;
    st.apps.tokens.insert(
        token.clone(),
        Issued {
            installation,
            expires,
        },
    );
    Reply::json(
        201,
        json!({
            "token": token,
            "expires_at": rfc3339(expires, 0),
            "permissions": permissions,
            "repository_selection": selection,
        }),
    )
}

/// For the runner endpoints: `None` when the request's credential is no installation token
/// (the PAT checks apply); `Some(Ok)` when the installation may act on `scope`; else GitHub's
/// refusal (401 expired, 404 outside the installation, 403 a permission missing).
pub(crate) fn guard(apps: &Apps, req: &Req, scope: &ScopeKey) -> Option<Result<(), Reply>> {
    let token = req.auth(&["bearer", "token"])?;
    let issued = apps.tokens.get(&token)?;
    if issued.expires <= SystemTime::now() {
        return Some(Err(Reply::error(401, "Bad credentials")));
    }
    let Some(inst) = apps.installations.get(&issued.installation) else {
        return Some(Err(Reply::error(401, "Bad credentials")));
    };
    if !covers(&inst.target, scope) {
        return Some(Err(Reply::not_found()));
    }
    let app = apps.apps.iter().find(|a| a.id == inst.app)?;
    let permission = match scope {
        ScopeKey::Org(_) => "organization_self_hosted_runners",
        ScopeKey::Repo(..) => "administration",
    };
    let level = app.permissions.get(permission).map(String::as_str);
    let allowed = match req.method.as_str() {
        "GET" => matches!(level, Some("read" | "write")),
        _ => level == Some("write"),
    };
    Some(if allowed {
        Ok(())
    } else {
        Err(Reply::error(403, "Resource not accessible by integration"))
    })
}

/// The PKCS#1 `RSAPublicKey` DER of a public key given as PEM (`PUBLIC KEY` or
/// `RSA PUBLIC KEY`) or DER (SubjectPublicKeyInfo or PKCS#1).
fn rsa_public_key(key: &[u8]) -> Option<Vec<u8>> {
    let der = match std::str::from_utf8(key)
        .ok()
        .filter(|t| t.contains("-----BEGIN"))
    {
        Some(pem) => {
            let body: String = pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat();
            base64_decode(body.trim())?
        }
        None => key.to_vec(),
    };
    Some(spki_inner(&der).unwrap_or(der))
}

/// SubjectPublicKeyInfo = SEQUENCE { SEQUENCE { algorithm }, BIT STRING { 0, RSAPublicKey } }:
/// the RSAPublicKey, or `None` when `der` is not shaped so.
fn spki_inner(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, body, _) = der_item(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, rest) = der_item(body)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, bits, _) = der_item(rest)?;
    (tag == 0x03 && bits.first() == Some(&0)).then(|| bits[1..].to_vec())
}

/// One DER item: (tag, contents, what follows).
fn der_item(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        let bytes = der.get(2..2 + n)?;
        (
            bytes.iter().fold(0usize, |l, b| (l << 8) | usize::from(*b)),
            2 + n,
        )
    };
    let body = der.get(start..start + len)?;
    Some((tag, body, &der[start + len..]))
}

/// Base64, standard or URL alphabet, padded or not.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}
