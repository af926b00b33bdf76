//! The registration-token cache against the fake GitHub server, including two real
//! processes racing for one token.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ghr::world::github::{now_epoch, GitHub, Scope};
use ghr::world::token_cache::{default_file_name, TokenCache, DEFAULT_TTL_SECS};
use testkit::FakeGitHub;

const PAT: &str = "fakepat_CACHEPAT0123456789abcdefCACHEPAT";
const ORG: &str = "acme";
const TOKEN_PATH: &str = "/orgs/acme/actions/runners/registration-token";

fn fake() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.add_org(ORG);
    gh.add_pat(PAT, &["admin:org"]);
    gh
}

/// A fresh directory per test under the target dir (no tempfile dependency).
fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("token_cache")
        .join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn cache_path(dir: &Path) -> PathBuf {
    dir.join(default_file_name(&Scope::org(ORG)))
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn second_call_is_a_cache_hit() {
    let gh = fake();
    let dir = temp_dir("hit");
    let path = cache_path(&dir);
    let api = GitHub::new(&gh.url(), Scope::org(ORG), PAT).unwrap();
    let cache = TokenCache::new(&path, DEFAULT_TTL_SECS);
    let a = cache.get_or_fetch(|| api.registration_token()).unwrap();
    let b = cache.get_or_fetch(|| api.registration_token()).unwrap();
    assert_eq!(a, b);
    assert_eq!(gh.count("POST", TOKEN_PATH), 1);
    assert_eq!(mode(&path), 0o600);
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[1], a.token.expose());
    assert_eq!(lines[2], a.expires_at.to_string());
    // Nothing but the cache and its lock is left behind (no temp files).
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".reg_token.cache.acme", ".reg_token.cache.acme.lock"]
    );
}

#[test]
fn an_entry_older_than_the_ttl_is_refetched() {
    let gh = fake();
    let path = cache_path(&temp_dir("ttl"));
    let now = now_epoch();
    fs::write(&path, format!("{}\nOLDTOKEN\n{}\n", now - 301, now + 3000)).unwrap();
    let api = GitHub::new(&gh.url(), Scope::org(ORG), PAT).unwrap();
    let t = TokenCache::new(&path, 300)
        .get_or_fetch(|| api.registration_token())
        .unwrap();
    assert_ne!(t.token.expose(), "OLDTOKEN");
    assert_eq!(gh.count("POST", TOKEN_PATH), 1);
    // Rewritten 0600 even though the old file was 0644.
    assert_eq!(mode(&path), 0o600);
    // Within a longer TTL the same entry would have been used.
    fs::write(&path, format!("{}\nOLDTOKEN\n{}\n", now - 301, now + 3000)).unwrap();
    let t = TokenCache::new(&path, 600)
        .get_or_fetch(|| api.registration_token())
        .unwrap();
    assert_eq!(t.token.expose(), "OLDTOKEN");
    assert_eq!(gh.count("POST", TOKEN_PATH), 1);
}

#[test]
fn never_within_60_s_of_expires_at() {
    let gh = fake();
    let path = cache_path(&temp_dir("expiry"));
    let now = now_epoch();
    let api = GitHub::new(&gh.url(), Scope::org(ORG), PAT).unwrap();
    let cache = TokenCache::new(&path, 100_000);
    fs::write(&path, format!("{now}\nSOONGONE\n{}\n", now + 59)).unwrap();
    let t = cache.get_or_fetch(|| api.registration_token()).unwrap();
    assert_ne!(t.token.expose(), "SOONGONE");
    assert_eq!(gh.count("POST", TOKEN_PATH), 1);
    fs::write(&path, format!("{now}\nSTILLGOOD\n{}\n", now + 120)).unwrap();
    let t = cache.get_or_fetch(|| api.registration_token()).unwrap();
    assert_eq!(t.token.expose(), "STILLGOOD");
    assert_eq!(gh.count("POST", TOKEN_PATH), 1);
}

#[test]
fn reads_the_shell_tools_two_line_format() {
    let path = cache_path(&temp_dir("shell"));
    let now = now_epoch();
    fs::write(&path, format!("{}\nSHELLTOKEN\n", now - 10)).unwrap();
    let t = TokenCache::new(&path, DEFAULT_TTL_SECS)
        .get_or_fetch(|| -> ghr::world::error::Result<_> { panic!("must not fetch") })
        .unwrap();
    assert_eq!(t.token.expose(), "SHELLTOKEN");
    assert_eq!(t.expires_at, now - 10 + 3600);
}

/// Issue 15.9: a token is for the server (and scope) that issued it. After GITHUB_SERVER_URL
/// changed, the token cached for the old server is a miss; files of the shell tool and older
/// ghr (no fourth line) still serve the default server.
#[test]
fn a_cached_token_serves_only_its_server() {
    let gh = fake();
    let path = cache_path(&temp_dir("server"));
    let api = GitHub::new(&gh.url(), Scope::org(ORG), PAT).unwrap();
    let old = format!("{}/{ORG}", gh.url());
    let first = TokenCache::new(&path, DEFAULT_TTL_SECS)
        .for_target(&old)
        .get_or_fetch(|| api.registration_token())
        .unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap().lines().nth(3),
        Some(old.as_str())
    );
    // The same server: a hit.
    let again = TokenCache::new(&path, DEFAULT_TTL_SECS)
        .for_target(&old)
        .get_or_fetch(|| api.registration_token())
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(gh.count("POST", TOKEN_PATH), 1);
    // Another server: a miss, and the file now serves that one.
    let new = "https://ghes.example/acme";
    let other = TokenCache::new(&path, DEFAULT_TTL_SECS)
        .for_target(new)
        .get_or_fetch(|| api.registration_token())
        .unwrap();
    assert_ne!(other, first);
    assert_eq!(gh.count("POST", TOKEN_PATH), 2);
    assert_eq!(fs::read_to_string(&path).unwrap().lines().nth(3), Some(new));
    // A file without the fourth line is the default server's.
    let now = now_epoch();
    fs::write(&path, format!("{now}\nOLDGHR\n{}\n", now + 3000)).unwrap();
    let default = TokenCache::new(&path, DEFAULT_TTL_SECS)
        .for_target("https://github.com/acme")
        .get_or_fetch(|| -> ghr::world::error::Result<_> { panic!("must not fetch") })
        .unwrap();
    assert_eq!(default.token.expose(), "OLDGHR");
    fs::write(&path, format!("{now}\nOLDGHR\n{}\n", now + 3000)).unwrap();
    let ghes = TokenCache::new(&path, DEFAULT_TTL_SECS)
        .for_target(new)
        .get_or_fetch(|| api.registration_token())
        .unwrap();
    assert_ne!(ghes.token.expose(), "OLDGHR");
}

/// Waiting for another process's fetch has a limit: a holder that never lets go ends the
/// wait with an error naming the lock, instead of a hang.
#[test]
fn a_lock_held_forever_ends_the_wait() {
    let path = cache_path(&temp_dir("held"));
    let cache = TokenCache::new(&path, DEFAULT_TTL_SECS).with_lock_wait(Duration::from_secs(1));
    let holder = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.lock_path())
        .unwrap();
    holder.lock().unwrap();
    let started = std::time::Instant::now();
    let err = cache
        .get_or_fetch(|| -> ghr::world::error::Result<_> { panic!("must not fetch") })
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        err.to_string().contains(&format!(
            "another ghr has held {} for 1 s",
            cache.lock_path().display()
        )),
        "{err}"
    );
}

#[test]
fn fetch_errors_come_back_typed_and_are_not_cached() {
    let gh = fake();
    let path = cache_path(&temp_dir("err"));
    let api = GitHub::new(&gh.url(), Scope::org(ORG), "fakepat_BADbadBADbad0123456789").unwrap();
    let err = TokenCache::new(&path, DEFAULT_TTL_SECS)
        .get_or_fetch(|| api.registration_token())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ghr::world::error::Error::GitHub(ghr::world::github::GitHubError::BadCredentials)
        ),
        "{err:?}"
    );
    assert!(!path.exists());
}

#[test]
fn invalidate_forgets_the_token() {
    let gh = fake();
    let path = cache_path(&temp_dir("invalidate"));
    let api = GitHub::new(&gh.url(), Scope::org(ORG), PAT).unwrap();
    let cache = TokenCache::new(&path, DEFAULT_TTL_SECS);
    cache.get_or_fetch(|| api.registration_token()).unwrap();
    cache.invalidate().unwrap();
    cache.get_or_fetch(|| api.registration_token()).unwrap();
    assert_eq!(gh.count("POST", TOKEN_PATH), 2);
}

/// Child half of `two_processes_started_together_fetch_one_token`.
#[test]
fn child_fetches_through_the_cache() {
    let (Ok(url), Ok(path)) = (
        std::env::var("GHR_TEST_CHILD_URL"),
        std::env::var("GHR_TEST_CHILD_CACHE"),
    ) else {
        return;
    };
    let api = GitHub::new(&url, Scope::org(ORG), PAT).unwrap();
    let t = TokenCache::new(path, DEFAULT_TTL_SECS)
        .get_or_fetch(|| api.registration_token())
        .unwrap();
    // A fingerprint, not the token: outputs must never carry it.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(t.token.expose().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    println!("FINGERPRINT {hex}");
}

#[test]
fn two_processes_started_together_fetch_one_token() {
    let gh = fake();
    // Slow answers widen the window in which both processes would fetch without the lock.
    gh.set_latency(Duration::from_millis(300));
    let path = cache_path(&temp_dir("race"));
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_fetches_through_the_cache", "--nocapture"])
            .env("GHR_TEST_CHILD_URL", gh.url())
            .env("GHR_TEST_CHILD_CACHE", &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn(), spawn()];
    let mut prints = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        let fp = text
            .lines()
            .find_map(|l| l.strip_prefix("FINGERPRINT "))
            .unwrap_or_else(|| panic!("no fingerprint in {text}"))
            .to_owned();
        assert!(!text.contains(PAT), "{text}");
        prints.push((fp, text));
    }
    assert_eq!(prints[0].0, prints[1].0, "both got the same token");
    assert_eq!(gh.count("POST", TOKEN_PATH), 1);
    let token = fs::read_to_string(&path)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    for (_, text) in &prints {
        assert!(!text.contains(&token), "token leaked: {text}");
    }
}
