//! A new user's first day, end to end on the real engine with the faithful runner image:
//! what the README tells a newcomer to do, with ghr built as the README builds it; and the
//! rules of the real runner and of a lab host that broke that day before (signals,
//! interrupted registrations, proxies, private CAs, the Docker socket, compose errors).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};
use testkit::lab::{docker, docker_ready, Fleet, Lab, TempDir};
use testkit::proxy::ForwardProxy;
use testkit::{FakeGitHub, JobSpec, Scope};

const ORG: Scope<'static> = Scope::Org(testkit::lab::ORG);

fn lab() -> Lab {
    Lab::new(env!("CARGO_BIN_EXE_ghr"))
}

/// ghr built exactly as the README's install command builds it (`cargo install --locked
/// --path .`, run from the checkout, so `.cargo/config.toml` applies), into a scratch root.
fn install_as_the_readme_says(root: &Path) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(workspace.join("README.md")).unwrap();
    assert!(
        readme.contains("\ncargo install --locked --path .\n"),
        "the README's install command changed; change this test with it"
    );
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // What `cargo test` set for itself must not change how the user's build is made.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "RUSTFLAGS" {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .current_dir(workspace)
        .args(["install", "--quiet", "--locked", "--path", ".", "--root"])
        .arg(root)
        // Its own target dir: the suite's is busy, and repeated runs reuse this one.
        .arg("--target-dir")
        .arg(workspace.join("target/readme-install"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo install --locked --path . failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root.join("bin/ghr")
}

/// Steps of a job: when they started and ended, and on which runner.
fn span(gh: &FakeGitHub, id: u64) -> (SystemTime, SystemTime, String) {
    let job = gh
        .wait_job(id, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("job {id} did not finish: {:?}", gh.job(id)));
    assert_eq!(job.result.as_deref(), Some("Succeeded"), "{}", job.log);
    (
        job.steps_started_at.expect("steps started"),
        job.steps_finished_at.expect("steps finished"),
        job.runner_name.unwrap_or_default(),
    )
}

/// A lab directory holding only `.env` (the stock image, two boards sharing one resource id,
/// a lock path that does not exist yet), and ghr as the README installs it: init, jobs on both
/// boards take turns, stop takes a runner offline at once, rm leaves nothing.
#[test]
fn a_newcomer_follows_the_readme() {
    if !docker_ready("a_newcomer_follows_the_readme") {
        return;
    }
    let install = TempDir::new("install");
    let ghr = install_as_the_readme_says(install.path());
    let head = std::fs::read(&ghr).unwrap();
    assert_eq!(
        ghr::world::wrapper_bin::elf_linkage(&head[..head.len().min(64 * 1024)]),
        ghr::world::wrapper_bin::Linkage::Static,
        "the installed ghr must run inside any image"
    );
    let lab = Lab::new(&ghr);
    let gh = &lab.gh;
    let fleet = lab
        .fleet("newcomer")
        .env("BOARD_RUNNERS=phytiumpi:board,phytiumpi;roc-rk3568-pc:board,roc-rk3568-pc")
        .env("RUNNER_RESOURCE_ID=board-shared")
        .build();
    assert_eq!(fleet.ghr.files(), [".env"]);
    assert!(!lab.lock_dir().exists());

    fleet.ghr(&["init"]).ok().hides(testkit::lab::PAT);
    let boards = [fleet.name("phytiumpi"), fleet.name("roc-rk3568-pc")];
    let all: Vec<String> = [fleet.name("1"), fleet.name("2")]
        .into_iter()
        .chain(boards.clone())
        .collect();
    assert!(gh.wait_until(Duration::from_secs(60), |gh| all
        .iter()
        .all(|n| gh.runner(&ORG, n).is_some_and(|r| r.status == "online"))));
    let meta = std::fs::metadata(lab.lock_dir()).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.permissions().mode() & 0o7777),
        (0, 1001, 0o2770),
        "ghr creates the lock directory for root and the runners' lock group only"
    );

    // Jobs for both boards: they share one resource, so they take turns.
    let mut jobs = Vec::new();
    for i in 0..3 {
        for board in ["phytiumpi", "roc-rk3568-pc"] {
            let spec = JobSpec {
                name: format!("{board}-{i}"),
                duration: Duration::from_millis(500),
                ..JobSpec::default()
            };
            jobs.push(gh.dispatch_job(&ORG, &["board", board], spec));
        }
    }
    let mut spans: Vec<_> = jobs.iter().map(|id| span(gh, *id)).collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "jobs overlap on the board: {pair:?}"
        );
    }
    for board in &boards {
        assert!(spans.iter().any(|s| &s.2 == board), "{board} ran jobs");
        assert_eq!(
            fleet.inspect(board, "{{.RestartCount}}"),
            "0",
            "{}",
            fleet.logs(board, 30)
        );
    }

    // ghr stop: the runner says goodbye, so GitHub shows it offline at once.
    fleet.ghr(&["stop", "phytiumpi"]).ok();
    assert_eq!(gh.runner(&ORG, &boards[0]).unwrap().status, "offline");
    assert_eq!(gh.runner(&ORG, &boards[1]).unwrap().status, "online");

    fleet.ghr(&["rm", "-y"]).ok();
    assert!(fleet.containers().is_empty(), "{:?}", fleet.containers());
    assert!(fleet.volumes().is_empty(), "{:?}", fleet.volumes());
    assert!(fleet.oneoffs().is_empty());
    assert!(gh.runners(&ORG).is_empty(), "{:?}", gh.runners(&ORG));
}

/// Everything `docker inspect` knows of the containers of this fleet, one-offs included.
fn inspect_all(fleet: &Fleet) -> String {
    let ids = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=ghr.prefix={}", fleet.prefix),
    ]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return String::new();
    }
    let mut args = vec!["inspect"];
    args.extend(ids);
    docker(&args)
}

/// Kills ghr with `signal` while a registration runs, then checks what is left and that the
/// next init converges: one registration per runner, no one-off, no token at rest.
fn interrupt_a_registration(lab: &Lab, tag: &str, signal: &str) {
    let gh = &lab.gh;
    let fleet = lab.fleet(tag).build();
    gh.set_registration_latency(Duration::from_secs(6));
    let mut child = fleet.ghr.command(&["init", "-n", "2"]).spawn().unwrap();
    // Registration is the runner's first start: config.sh waits for GitHub in the container.
    assert!(
        fleet.wait(Duration::from_secs(60), || fleet
            .containers()
            .iter()
            .any(|(_, s)| s == "running")),
        "a runner starts registering"
    );
    // The token is nowhere in any container's configuration.
    let token_cache = std::fs::read_to_string(fleet.path(".reg_token.cache.acme")).unwrap();
    let token = token_cache.lines().nth(1).unwrap().trim().to_string();
    assert!(
        !inspect_all(&fleet).contains(&token),
        "the token is at rest in a container"
    );
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    gh.set_registration_latency(Duration::ZERO);
    if signal == "-TERM" {
        // ghr cleaned up itself before it exited.
        assert_eq!(status.code(), Some(143), "{status:?}");
        assert!(fleet.oneoffs().is_empty(), "{:?}", fleet.oneoffs());
    }
    // The next command removes what is left and converges.
    fleet.ghr(&["init", "-n", "2"]).ok();
    assert!(fleet.oneoffs().is_empty(), "{:?}", fleet.oneoffs());
    let names = [fleet.name("1"), fleet.name("2")];
    assert!(gh.wait_until(Duration::from_secs(60), |gh| names
        .iter()
        .all(|n| gh.runner(&ORG, n).is_some_and(|r| r.status == "online"))));
    let mine: Vec<String> = gh
        .runners(&ORG)
        .into_iter()
        .filter(|r| r.name.starts_with(&fleet.prefix))
        .map(|r| r.name)
        .collect();
    assert_eq!(mine.len(), 2, "one registration per runner: {mine:?}");
    assert!(!inspect_all(&fleet).contains(&token));
    // The first starts consumed their credentials: no token at rest in a volume.
    for name in &names {
        let out = Command::new("docker")
            .args(["cp", &format!("{name}:/home/runner/.ghr-credential"), "-"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name} still holds its credential");
    }
}

#[test]
fn an_interrupted_registration_leaves_nothing_behind() {
    if !docker_ready("an_interrupted_registration_leaves_nothing_behind") {
        return;
    }
    let lab = lab();
    interrupt_a_registration(&lab, "sigterm", "-TERM");
    interrupt_a_registration(&lab, "sigkill", "-KILL");
}

/// `HTTP_PROXY` in `.env` reaches ghr's GitHub client, the registration run of config.sh and
/// the runners: the fake GitHub's name resolves nowhere, so only the proxy gets there.
#[test]
fn proxies_from_env_reach_ghr_config_sh_and_the_runners() {
    if !docker_ready("proxies_from_env_reach_ghr_config_sh_and_the_runners") {
        return;
    }
    let gh = FakeGitHub::start_as("github.invalid");
    let port: u16 = gh.url().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = ForwardProxy::start(move |authority| {
        (authority == format!("github.invalid:{port}"))
            .then(|| std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    });
    let lab = Lab::with_github(env!("CARGO_BIN_EXE_ghr"), gh);
    let fleet = lab
        .fleet("proxy")
        .env(&format!("HTTP_PROXY={}", proxy.url()))
        .build();
    fleet.ghr(&["init", "-n", "1"]).ok();
    let name = fleet.name("1");
    assert!(lab.gh.wait_until(Duration::from_secs(60), |gh| gh
        .runner(&ORG, &name)
        .is_some_and(|r| r.status == "online")));
    assert!(
        proxy.count("/registration-token") >= 1,
        "ghr's client: {:?}",
        proxy.hits()
    );
    assert!(
        proxy.count("/actions/runner-registration") >= 1,
        "config.sh: {:?}",
        proxy.hits()
    );
    assert!(
        proxy.count("/sessions") >= 1,
        "the runner: {:?}",
        proxy.hits()
    );
    let job = lab
        .gh
        .dispatch_job(&ORG, &[], JobSpec::new("through-the-proxy"));
    let rec = lab
        .gh
        .wait_job(job, Duration::from_secs(60))
        .expect("job ran");
    assert_eq!(rec.result.as_deref(), Some("Succeeded"), "{}", rec.log);

    // NO_PROXY names the host: ghr's requests skip the proxy, so they get nowhere.
    let rest_calls = || proxy.count("/orgs/acme/actions/runners");
    let before = rest_calls();
    fleet
        .ghr_with(&[("NO_PROXY", "github.invalid")], &["list"])
        .code(4);
    assert_eq!(rest_calls(), before);
}

/// `MOUNT_DOCKER_SOCK=true`: the socket's group joins the container's groups, so jobs (uid
/// 1001) can use it.
#[test]
fn jobs_can_use_the_mounted_docker_socket() {
    if !docker_ready("jobs_can_use_the_mounted_docker_socket") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("sock").env("MOUNT_DOCKER_SOCK=true").build();
    fleet.ghr(&["init", "-n", "1"]).ok();
    let spec = JobSpec {
        name: "docker-socket".into(),
        script: Some("id\ntest -w /var/run/docker.sock && echo socket is writable\n".into()),
        ..JobSpec::default()
    };
    let job = lab.gh.dispatch_job(&ORG, &[], spec);
    let rec = lab
        .gh
        .wait_job(job, Duration::from_secs(60))
        .expect("job ran");
    assert_eq!(rec.result.as_deref(), Some("Succeeded"), "{}", rec.log);
    assert!(rec.log.contains("socket is writable"), "{}", rec.log);
}

/// When compose fails, the error carries the lines that say why.
#[test]
fn compose_errors_keep_their_cause() {
    if !docker_ready("compose_errors_keep_their_cause") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("clash").build();
    // Somebody else's container already has the name of runner 1.
    let image = testkit::lab::test_image();
    let name = fleet.name("1");
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            docker(&["rm", "-f", &self.0]);
        }
    }
    let _theirs = Gone(name.clone());
    docker(&["create", "--name", &name, &image, "/home/runner/run.sh"]);
    let out = fleet.ghr(&["init", "-n", "1"]).code(5);
    let error = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or("");
    assert!(
        error.contains(&format!("The container name \"/{name}\" is already in use")),
        "{}",
        out.stderr
    );
    assert!(!error.contains("Encountered errors"), "{error}");
}

/// A GitHub Enterprise Server with a private CA (or a TLS-inspecting proxy): ghr trusts the
/// system's CA store (here `SSL_CERT_FILE`) as well as its bundled roots.
#[test]
fn a_private_ca_in_the_system_store_is_trusted() {
    if !docker_ready("a_private_ca_in_the_system_store_is_trusted") {
        return;
    }
    let dir = TempDir::new("ca");
    let pki = tls::Pki::generate(dir.path());
    let lab = lab();
    let front = tls::Front::start(&pki, &lab.gh.url());
    let fleet = lab
        .fleet("tls")
        .env(&format!("GITHUB_API_URL={}", front.url()))
        .build();
    let ca = pki.ca.display().to_string();
    fleet.ghr_with(&[("SSL_CERT_FILE", &ca)], &["list"]).ok();
    let refused = fleet.ghr(&["list"]).code(4);
    assert!(
        refused.stderr.to_lowercase().contains("certificate"),
        "{}",
        refused.stderr
    );
}

/// A private CA and a TLS front for the fake GitHub (one request per connection).
mod tls {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Arc;

    pub struct Pki {
        pub ca: PathBuf,
        cert: PathBuf,
        key: PathBuf,
    }

    impl Pki {
        /// A CA and a certificate for `localhost` it signed, made with the openssl CLI.
        pub fn generate(dir: &Path) -> Pki {
            let run = |args: &[&str]| {
                let out = Command::new("openssl")
                    .args(args)
                    .current_dir(dir)
                    .output()
                    .expect("the openssl CLI is installed (.ci/run installs it)");
                assert!(
                    out.status.success(),
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            std::fs::write(
                dir.join("server.ext"),
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n\
                 basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
            )
            .unwrap();
            run(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                "/CN=ghr test CA",
            ]);
            run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "3650",
                "-extfile",
                "server.ext",
            ]);
            Pki {
                ca: dir.join("ca.pem"),
                cert: dir.join("server.pem"),
                key: dir.join("server.key"),
            }
        }
    }

    pub struct Front {
        port: u16,
    }

    impl Front {
        /// Terminates TLS on 127.0.0.1 and passes each request to `upstream` (http://host:port).
        pub fn start(pki: &Pki, upstream: &str) -> Front {
            use rustls::pki_types::pem::PemObject;
            use rustls::pki_types::{CertificateDer, PrivateKeyDer};
            let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(&pki.cert)
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
            let key = PrivateKeyDer::from_pem_file(&pki.key).unwrap();
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
            let config = Arc::new(config);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let upstream = upstream.trim_start_matches("http://").to_string();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (config, upstream) = (config.clone(), upstream.clone());
                    std::thread::spawn(move || {
                        let _ = serve(stream, config, &upstream);
                    });
                }
            });
            Front { port }
        }

        pub fn url(&self) -> String {
            format!("https://localhost:{}", self.port)
        }
    }

    fn serve(
        stream: TcpStream,
        config: Arc<rustls::ServerConfig>,
        upstream: &str,
    ) -> std::io::Result<()> {
        let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, stream);
        let mut reader = BufReader::new(&mut tls);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line.trim_end().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if k.eq_ignore_ascii_case("connection") {
                    continue;
                }
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let mut up = TcpStream::connect(upstream)?;
        up.write_all(head.as_bytes())?;
        up.write_all(b"Connection: close\r\n\r\n")?;
        up.write_all(&body)?;
        let mut answer = Vec::new();
        up.read_to_end(&mut answer)?;
        tls.write_all(&answer)?;
        tls.conn.send_close_notify();
        tls.flush()
    }
}
