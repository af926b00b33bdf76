//! GitHub App authentication end to end: the real `ghr` binary with an App-only `.env` (no
//! `GH_PAT`), the fake GitHub modelling the App flow (JWT checked against the App's public
//! key, installations, installation tokens that expire), and, for the fleet test, real
//! containers of the test image. Keys are made by the `openssl` CLI for each test, PKCS#1 and
//! PKCS#8, and never committed.
//!
//! Without Docker the fleet test fails, unless GHR_SKIP_DOCKER_TESTS=1.

#[path = "serve_support/mod.rs"]
mod serve_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use testkit::lab::{docker_ready, running, Fleet, Lab, Out, ORG};
use testkit::{FakeGitHub, Scope};

const APP_ID: u64 = 4242;
const CLIENT_ID: &str = "Iv23liTestApp0001";
const ORG_RUNNERS: (&str, &str) = ("organization_self_hosted_runners", "write");
const ADMINISTRATION: (&str, &str) = ("administration", "write");

fn lab() -> Lab {
    Lab::new(env!("CARGO_BIN_EXE_ghr"))
}

/// Which PEM the private key file holds.
#[derive(Clone, Copy)]
enum Pem {
    /// `BEGIN RSA PRIVATE KEY`
    Pkcs1,
    /// `BEGIN PRIVATE KEY`
    Pkcs8,
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI (installed by .ci/run)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A fresh 2048-bit RSA key in `dir/name` (mode 0600); returns its path and its public key
/// (SPKI PEM), what GitHub keeps of an App's key.
fn keypair(dir: &Path, name: &str, pem: Pem) -> (PathBuf, Vec<u8>) {
    let path = dir.join(name);
    let p = path.to_str().unwrap();
    match pem {
        Pem::Pkcs1 => openssl(&["genrsa", "-traditional", "-out", p, "2048"]),
        Pem::Pkcs8 => openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            p,
        ]),
    };
    let head = std::fs::read_to_string(&path).unwrap();
    let want = match pem {
        Pem::Pkcs1 => "-----BEGIN RSA PRIVATE KEY-----",
        Pem::Pkcs8 => "-----BEGIN PRIVATE KEY-----",
    };
    assert!(
        head.starts_with(want),
        "openssl wrote {}",
        head.lines().next().unwrap_or("")
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = openssl(&["rsa", "-in", p, "-pubout"]);
    (path, public)
}

/// An App-only fleet: `GH_PAT` emptied (an empty value is unset), the App's keys set.
fn app_fleet(lab: &Lab, tag: &str, key: &Path, extra: &[&str]) -> Fleet {
    let mut b = lab
        .fleet(tag)
        .env("GH_PAT=")
        .env(&format!("GITHUB_APP_ID={APP_ID}"))
        .env(&format!("GITHUB_APP_PRIVATE_KEY_FILE={}", key.display()));
    for line in extra {
        b = b.env(line);
    }
    b.build()
}

/// Nothing of a key, a JWT or an installation token on either stream.
#[track_caller]
fn hides_app_secrets(mut out: Out) -> Out {
    for needle in ["ghs_", "-----BEGIN", "eyJ"] {
        out = out.hides(needle);
    }
    out
}

/// Installation tokens GitHub minted (answered 201).
fn mints(gh: &FakeGitHub) -> usize {
    gh.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/access_tokens") && r.status == 201)
        .count()
}

/// Requests to the runner endpoints that GitHub answered 401.
fn refused_tokens(gh: &FakeGitHub) -> usize {
    gh.requests()
        .iter()
        .filter(|r| r.path.contains("/actions/runners") && r.status == 401)
        .count()
}

#[test]
fn an_app_only_fleet_inits_lists_and_removes() {
    if !docker_ready("an_app_only_fleet_inits_lists_and_removes") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let (key, public) = keypair(lab.scratch(), "app.pem", Pem::Pkcs1);
    gh.add_app(APP_ID, CLIENT_ID, &public, &[ORG_RUNNERS]);
    gh.install_app(APP_ID, &Scope::Org(ORG));
    let fleet = app_fleet(&lab, "app", &key, &[]);
    let names: Vec<String> = (1..=2).map(|i| fleet.name(&i.to_string())).collect();

    hides_app_secrets(fleet.ghr(&["init", "-n", "2"]).ok());
    assert_eq!(fleet.containers(), running(&names));
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| {
            let online = gh
                .runners(&Scope::Org(ORG))
                .into_iter()
                .filter(|r| r.name.starts_with(&fleet.prefix) && r.status == "online")
                .count();
            online == 2
        }),
        "both runners online on GitHub"
    );
    // One installation token for the whole command, found through the org's installation;
    // every runner-endpoint request carried an installation token, none a PAT.
    assert_eq!(mints(gh), 1);
    assert_eq!(gh.count("GET", "/orgs/acme/installation"), 1);
    for r in gh
        .requests()
        .iter()
        .filter(|r| r.path.contains("/actions/runners"))
    {
        let auth = r.header("authorization").unwrap_or_default();
        assert!(
            auth.starts_with("Bearer ghs_"),
            "{} {}: {auth:.12}",
            r.method,
            r.path
        );
    }

    // The token is cached beside the registration-token cache, 0600; the next command
    // reuses it.
    let cache = fleet.path(".app_token.cache.acme");
    let mode = std::fs::metadata(&cache)
        .expect("the token cache")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(&cache)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(token.starts_with("ghs_"));
    let listed = hides_app_secrets(fleet.ghr(&["list"]).ok()).hides(&token);
    for name in &names {
        assert!(listed.stdout.contains(name.as_str()), "{}", listed.stdout);
    }
    assert_eq!(mints(gh), 1, "list reused the cached token");

    // Neither the compose file nor the containers hold the token or the key.
    let compose = fleet
        .ghr
        .files()
        .into_iter()
        .find(|f| f.starts_with("docker-compose"));
    let compose = std::fs::read_to_string(fleet.path(&compose.expect("a compose file"))).unwrap();
    assert!(!compose.contains(&token) && !compose.contains("PRIVATE KEY"));
    for name in &names {
        let env = fleet.inspect(name, "{{json .Config.Env}} {{json .Args}}");
        assert!(!env.contains("ghs_"), "{name}: {env}");
    }

    // plan and register read GitHub as the App too: nothing to do, nothing to register.
    hides_app_secrets(fleet.ghr(&["plan", "-n", "2"]).ok()).stdout_line("nothing to do");
    hides_app_secrets(fleet.ghr(&["register"]).ok());

    hides_app_secrets(fleet.ghr(&["rm", "-y"]).ok());
    assert_eq!(fleet.containers(), vec![]);
    assert!(gh
        .runners(&Scope::Org(ORG))
        .iter()
        .all(|r| !r.name.starts_with(&fleet.prefix)));
    // purge deletes the App's token cache with ghr's other generated files.
    hides_app_secrets(fleet.ghr(&["purge", "-y"]).ok());
    assert!(!cache.exists(), "purge deleted {}", cache.display());
    assert_eq!(mints(gh), 1, "one token from init to purge");
}

#[test]
fn an_expired_installation_token_is_renewed_once() {
    if !docker_ready("an_expired_installation_token_is_renewed_once") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let (key, public) = keypair(lab.scratch(), "app.pem", Pem::Pkcs1);
    gh.add_app(APP_ID, CLIENT_ID, &public, &[ORG_RUNNERS]);
    let installation = gh.install_app(APP_ID, &Scope::Org(ORG));
    let fleet = app_fleet(
        &lab,
        "renew",
        &key,
        &[&format!("GITHUB_APP_INSTALLATION_ID={installation}")],
    );
    fleet.ghr(&["list"]).ok();
    assert_eq!(mints(gh), 1);
    assert_eq!(
        gh.count("GET", "/installation"),
        0,
        "a given installation id is not looked up"
    );

    // GitHub stops taking the cached token before ghr expected: one 401, one new token.
    gh.expire_installation_tokens();
    gh.clear_requests();
    hides_app_secrets(fleet.ghr(&["list"]).ok());
    assert_eq!(refused_tokens(gh), 1);
    assert_eq!(mints(gh), 1, "renewed once");
    gh.clear_requests();
    fleet.ghr(&["list"]).ok();
    assert_eq!(
        (refused_tokens(gh), mints(gh)),
        (0, 0),
        "the new token is cached"
    );

    // A token within 5 minutes of its expiry is renewed before it is used, without a 401.
    gh.set_installation_token_ttl(Duration::from_secs(240));
    gh.expire_installation_tokens();
    fleet.ghr(&["list"]).ok();
    gh.clear_requests();
    fleet.ghr(&["list"]).ok();
    assert_eq!((refused_tokens(gh), mints(gh)), (0, 1));
}

#[test]
fn a_jwt_github_refuses_or_an_app_not_installed_is_one_line_exit_4() {
    if !docker_ready("a_jwt_github_refuses_or_an_app_not_installed_is_one_line_exit_4") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let (key, public) = keypair(lab.scratch(), "app.pem", Pem::Pkcs8);
    let (other_key, _) = keypair(lab.scratch(), "other.pem", Pem::Pkcs1);
    gh.add_app(APP_ID, CLIENT_ID, &public, &[ORG_RUNNERS]);

    // Not installed on the org yet.
    let fleet = app_fleet(&lab, "jwt", &key, &[]);
    hides_app_secrets(fleet.ghr(&["rm", "-y"]).code(4)).error_line(&format!(
        "the GitHub App GITHUB_APP_ID={APP_ID} is not installed on organization `acme`"
    ));
    gh.install_app(APP_ID, &Scope::Org(ORG));
    fleet.ghr(&["rm", "-y"]).ok();

    // Signed with a key that is not the App's.
    fleet.set_env(&format!(
        "GITHUB_APP_PRIVATE_KEY_FILE={}",
        other_key.display()
    ));
    hides_app_secrets(fleet.ghr(&["rm", "-y"]).code(4)).error_line(&format!(
        "GitHub rejected the App's JWT (HTTP 401: A JSON web token could not be decoded): GITHUB_APP_ID={APP_ID} is not the App whose private key is GITHUB_APP_PRIVATE_KEY_FILE={}",
        other_key.display()
    ));
    // An id that is no App's.
    fleet.set_env(&format!("GITHUB_APP_PRIVATE_KEY_FILE={}", key.display()));
    fleet.set_env("GITHUB_APP_ID=999");
    hides_app_secrets(fleet.ghr(&["rm", "-y"]).code(4))
        .error_line("GitHub rejected the App's JWT (HTTP 401: 'Issuer' claim");
    // The client id names the App as well as its id.
    fleet.set_env("GITHUB_APP_ID=");
    fleet.set_env(&format!("GITHUB_APP_CLIENT_ID={CLIENT_ID}"));
    fleet.ghr(&["rm", "-y"]).ok();
}

#[test]
fn a_suspended_installation_is_one_line_that_names_the_fix_and_changes_nothing() {
    if !docker_ready("a_suspended_installation_is_one_line_that_names_the_fix_and_changes_nothing")
    {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let (key, public) = keypair(lab.scratch(), "app.pem", Pem::Pkcs8);
    gh.add_app(APP_ID, CLIENT_ID, &public, &[ORG_RUNNERS]);
    let installation = gh.install_app(APP_ID, &Scope::Org(ORG));
    gh.suspend_installation(installation, true);
    let fleet = app_fleet(&lab, "suspended", &key, &[]);
    hides_app_secrets(fleet.ghr(&["init", "-n", "1"]).code(4)).error_line(&format!(
        "the GitHub App GITHUB_APP_ID={APP_ID}'s installation {installation} on organization `acme` is suspended (HTTP 403), so GitHub gives it no token; an owner unsuspends it in the account's Settings > GitHub Apps > Configure > Unsuspend"
    ));
    assert!(fleet.containers().is_empty(), "no container");
    assert!(fleet.volumes().is_empty(), "no volume");
    assert_eq!(mints(gh), 0);
    // Unsuspended: the same command goes through.
    gh.suspend_installation(installation, false);
    fleet.ghr(&["init", "-n", "1"]).ok();
    assert_eq!(mints(gh), 1);
    fleet.ghr(&["rm", "-y"]).ok();
}

#[test]
fn repository_runners_need_the_administration_permission() {
    if !docker_ready("repository_runners_need_the_administration_permission") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    gh.add_repo(ORG, "fw");
    let (key, public) = keypair(lab.scratch(), "app.pem", Pem::Pkcs8);
    // An App made for organization runners only, installed on the repository.
    gh.add_app(APP_ID, CLIENT_ID, &public, &[ORG_RUNNERS]);
    gh.install_app(APP_ID, &Scope::Repo(ORG, "fw"));
    let fleet = app_fleet(&lab, "repo", &key, &["REPO=fw"]);
    hides_app_secrets(fleet.ghr(&["rm", "-y"]).code(4)).error_line(
        "the GitHub App lacks permission to manage the self-hosted runners of repository `acme/fw` (HTTP 403: Resource not accessible by integration): it needs the repository permission \"Administration\" (read and write)",
    );
    let (key2, public2) = keypair(lab.scratch(), "admin.pem", Pem::Pkcs1);
    gh.add_app(7, "Iv23liAdmin", &public2, &[ADMINISTRATION]);
    gh.install_app(7, &Scope::Repo(ORG, "fw"));
    fleet.set_env("GITHUB_APP_ID=7");
    fleet.set_env(&format!("GITHUB_APP_PRIVATE_KEY_FILE={}", key2.display()));
    fleet.ghr(&["rm", "-y"]).ok();
    assert_eq!(gh.count("GET", "/repos/acme/fw/installation"), 2);
}

#[test]
fn a_key_file_that_is_missing_exposed_or_not_rsa_is_a_settings_error() {
    let lab = lab();
    let dir = lab.scratch();
    let (key, _) = keypair(dir, "app.pem", Pem::Pkcs1);
    let fleet = app_fleet(&lab, "key", &key, &[]);
    let set = |path: &Path| {
        fleet.set_env(&format!("GITHUB_APP_PRIVATE_KEY_FILE={}", path.display()));
        path.display().to_string()
    };

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let shown = set(&key);
    hides_app_secrets(fleet.ghr(&["list"]).code(3)).error_line(&format!(
        "GITHUB_APP_PRIVATE_KEY_FILE={shown} can be read by others (mode 0644); run chmod 600 {shown}"
    ));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    fleet.ghr(&["list"]).code(3);

    let missing = set(&dir.join("nope.pem"));
    fleet.ghr(&["list"]).code(3).error_line(&format!(
        "GITHUB_APP_PRIVATE_KEY_FILE={missing}: the file does not exist"
    ));

    let ec = dir.join("ec.pem");
    std::fs::write(
        &ec,
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ]),
    )
    .unwrap();
    std::fs::set_permissions(&ec, std::fs::Permissions::from_mode(0o600)).unwrap();
    let shown = set(&ec);
    hides_app_secrets(fleet.ghr(&["list"]).code(3)).error_line(&format!(
        "GITHUB_APP_PRIVATE_KEY_FILE={shown} is not an RSA private key"
    ));

    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a key\n").unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let shown = set(&junk);
    fleet.ghr(&["list"]).code(3).error_line(&format!(
        "GITHUB_APP_PRIVATE_KEY_FILE={shown} is not an RSA private key: it holds no PEM private key"
    ));

    // Half an App is named too, before anything else happens.
    fleet.set_env(&format!("GITHUB_APP_PRIVATE_KEY_FILE={}", key.display()));
    fleet.set_env("GITHUB_APP_ID=");
    fleet.ghr(&["list"]).code(3).error_line(
        "GITHUB_APP_PRIVATE_KEY_FILE is set but neither GITHUB_APP_ID nor GITHUB_APP_CLIENT_ID",
    );
    assert_eq!(mints(&lab.gh), 0);
}

/// The fake checks a JWT as GitHub does: the signature against the App's public key, `exp`
/// in the future and at most 10 minutes ahead, `iat` not in the future, `iss` an App.
#[test]
fn the_fake_checks_app_jwts_as_github_does() {
    use ghr::world::github::{load_app_key, now_epoch, sign_jwt, Claims};
    let gh = FakeGitHub::start();
    gh.add_org(ORG);
    let dir = testkit::lab::TempDir::new("jwt");
    let (key, public) = keypair(dir.path(), "app.pem", Pem::Pkcs8);
    let (other, _) = keypair(dir.path(), "other.pem", Pem::Pkcs1);
    gh.add_app(APP_ID, CLIENT_ID, &public, &[ORG_RUNNERS]);
    let installation = gh.install_app(APP_ID, &Scope::Org(ORG));
    let (key, other) = (load_app_key(&key).unwrap(), load_app_key(&other).unwrap());
    let mint = |claims: Claims, signer: &ring::signature::RsaKeyPair| {
        let jwt = sign_jwt(&claims, signer).unwrap();
        let auth = format!("Bearer {}", jwt.expose());
        let url = format!(
            "{}/app/installations/{installation}/access_tokens",
            gh.url()
        );
        let r = testkit::http_client::request(
            "POST",
            &url,
            &[("authorization", auth.as_str()), ("user-agent", "t")],
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        (r.status, r.text())
    };
    let now = now_epoch();
    let at = |iat: i64, exp: i64, iss: &str| Claims {
        iat: now + iat,
        exp: now + exp,
        iss: iss.to_string(),
    };
    let id = APP_ID.to_string();
    for (claims, signer, status, says) in [
        (Claims::at(now, &id), &key, 201, "ghs_"),
        (Claims::at(now, CLIENT_ID), &key, 201, "ghs_"),
        (at(-60, 600, &id), &key, 201, "ghs_"),
        (Claims::at(now, &id), &other, 401, "could not be decoded"),
        (at(-60, 601 + 5, &id), &key, 401, "too far in the future"),
        (
            at(-700, -10, &id),
            &key,
            401,
            "('exp') must be a numeric value",
        ),
        (at(120, 300, &id), &key, 401, "'Issued at' claim"),
        (Claims::at(now, "999"), &key, 401, "'Issuer' claim"),
    ] {
        let (got, body) = mint(claims.clone(), signer);
        assert_eq!(got, status, "{claims:?}: {body}");
        assert!(body.contains(says), "{claims:?}: {body}");
    }
    // An installation token is a Bearer for the runner endpoints until it expires.
    gh.set_installation_token_ttl(Duration::from_secs(2));
    let (_, body) = mint(Claims::at(now, &id), &key);
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let auth = format!("token {}", token["token"].as_str().unwrap());
    let list = || {
        testkit::http_client::request(
            "GET",
            &format!("{}/orgs/{ORG}/actions/runners", gh.url()),
            &[("authorization", auth.as_str()), ("user-agent", "t")],
            None,
            Duration::from_secs(5),
        )
        .unwrap()
        .status
    };
    assert_eq!(list(), 200);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(list(), 401, "the token expired");
}

/// The first run's prompts offer the App: `app` at the PAT prompt asks for its id and key
/// file, a key GitHub refuses is asked again, and the accepted App is saved (not the key).
#[test]
fn the_first_run_prompts_offer_a_github_app() {
    use testkit::terminal::Terminal;
    let lab = lab();
    let gh = &lab.gh;
    let (key, public) = keypair(lab.scratch(), "app.pem", Pem::Pkcs1);
    let (other, _) = keypair(lab.scratch(), "other.pem", Pem::Pkcs8);
    gh.add_app(APP_ID, CLIENT_ID, &public, &[ORG_RUNNERS]);
    gh.install_app(APP_ID, &Scope::Org(ORG));
    let ghr = testkit::lab::Ghr::new(env!("CARGO_BIN_EXE_ghr"), "prompt-app").env_file(&format!(
        "RUNNER_NAME_PREFIX=lab\nMAP_USB_DEVICE=false\nMAP_KVM_DEVICE=false\nGITHUB_API_URL={}\n",
        gh.url()
    ));
    let mut term = Terminal::start(
        &ghr,
        env!("CARGO_BIN_EXE_ghr"),
        "compose -n 1 --env-file .env",
    );
    term.answer("GitHub organization", 1, ORG);
    term.answer("Repository", 1, "");
    term.answer("Classic PAT", 1, "app");
    term.answer("GitHub App ID", 1, &APP_ID.to_string());
    term.answer("private key", 1, other.to_str().unwrap());
    term.wait_for("please enter it again");
    // The App's id again, now with its own key.
    term.answer("GitHub App ID", 3, &APP_ID.to_string());
    term.answer("private key", 3, key.to_str().unwrap());
    term.wait_for("Wrote");
    let (status, screen) = term.finish();
    assert!(status.success(), "{screen}");
    assert!(screen.contains("GitHub rejected the App's JWT"), "{screen}");
    for needle in ["ghs_", "-----BEGIN", "eyJ"] {
        assert!(
            !screen.contains(needle),
            "{needle} on the terminal: {screen}"
        );
    }
    let env = ghr.file(".env").unwrap();
    assert!(
        env.contains(&format!("GITHUB_APP_ID={APP_ID}\n"))
            && env.contains(&format!("GITHUB_APP_PRIVATE_KEY_FILE={}\n", key.display()))
            && !env.contains("GH_PAT")
            && !env.contains("PRIVATE KEY-----"),
        "{env}"
    );
    assert_eq!(mints(gh), 1, "the accepted App was checked with one token");
}

/// A GitHub that cannot be reached while a token is minted fails the request with one line
/// (the client does not wait on itself), and never shows the key or a JWT.
#[test]
fn an_unreachable_github_while_minting_is_a_network_error() {
    use ghr::world::github::{load_app_key, App, Auth, GitHub, GitHubError, Options};
    let dir = testkit::lab::TempDir::new("mint-net");
    let (key, _) = keypair(dir.path(), "app.pem", Pem::Pkcs8);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = App::new(
        "GITHUB_APP_ID",
        APP_ID.to_string(),
        &key,
        load_app_key(&key).unwrap(),
        None,
        Some(dir.path().join(".app_token.cache.acme")),
    );
    let opts = Options {
        give_up_after: Duration::from_secs(2),
        backoff_base: Duration::from_millis(50),
        status: std::sync::Arc::new(|_: Option<&str>| {}),
        ..Options::default()
    };
    let gh = GitHub::with_auth(
        &format!("http://127.0.0.1:{port}"),
        ghr::world::github::Scope::org(ORG),
        Auth::App(Box::new(app)),
        opts,
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(gh.list_runners()).unwrap());
    let got = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the client answered (no deadlock)");
    match got {
        Err(e @ GitHubError::Network { .. }) => {
            let line = e.to_string();
            assert!(line.starts_with("cannot reach the GitHub API"), "{line}");
            assert!(
                !line.contains("eyJ") && !line.contains("-----BEGIN"),
                "{line}"
            );
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    assert!(!dir.path().join(".app_token.cache.acme").exists());
}

/// `ghr serve`'s GitHub refresher works as the App: GitHub's side is known, one token serves
/// every refresh, and a token GitHub stops taking is replaced once.
#[test]
fn serve_refreshes_github_as_the_app() {
    use serve_support::{wait_for, Serve};
    let lab = lab();
    let gh = &lab.gh;
    let (key, public) = keypair(lab.scratch(), "app.pem", Pem::Pkcs8);
    gh.add_app(APP_ID, CLIENT_ID, &public, &[ORG_RUNNERS]);
    gh.install_app(APP_ID, &Scope::Org(ORG));
    let locks = lab.scratch().join("locks");
    runner_wrapper::lockdir::ensure_resource(
        &locks,
        "pi",
        runner_wrapper::contract::DEFAULT_LOCK_GROUP,
    )
    .expect("a resource");
    let dir = testkit::lab::Ghr::new(env!("CARGO_BIN_EXE_ghr"), "serve-app")
        .env_file(&format!(
            "ORG={ORG}\nGITHUB_APP_CLIENT_ID={CLIENT_ID}\nGITHUB_APP_PRIVATE_KEY_FILE={key}\nRUNNER_NAME_PREFIX=srvapp-\nGITHUB_API_URL={api}\nGITHUB_SERVER_URL={api}\nRUNNER_LOCK_HOST_PATH={locks}\n",
            key = key.display(),
            api = gh.url(),
            locks = locks.display()
        ))
        .env("SERVE_GITHUB_REFRESH", "1s");
    let serve = Serve::on(&dir);
    let known = || serve.json("/api/v1/fleets")[0]["github"] == "known";
    assert!(
        wait_for(Duration::from_secs(20), known),
        "{}",
        serve.stderr()
    );
    // Several refreshes, one token.
    let listed = gh.count("GET", "/orgs/acme/actions/runners");
    assert!(wait_for(Duration::from_secs(10), || {
        gh.count("GET", "/orgs/acme/actions/runners") >= listed + 2
    }));
    assert_eq!(mints(gh), 1);
    gh.expire_installation_tokens();
    assert!(wait_for(Duration::from_secs(20), || mints(gh) == 2));
    let listed = gh.count("GET", "/orgs/acme/actions/runners");
    assert!(wait_for(Duration::from_secs(10), || {
        gh.count("GET", "/orgs/acme/actions/runners") >= listed + 2
    }));
    assert!(known(), "{}", serve.stderr());
    assert_eq!(mints(gh), 2, "renewed once");
    for needle in ["ghs_", "-----BEGIN", "eyJ"] {
        assert!(!serve.stderr().contains(needle), "{}", serve.stderr());
        for path in ["/", "/api/v1/fleets", "/metrics"] {
            assert!(!serve.get(path).contains(needle), "{path} shows {needle}");
        }
    }
}
