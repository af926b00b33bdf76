//! The image decision against the real engine, with real `docker build`s of FROM-scratch
//! images (nothing is pulled).

use ghr::config::settings::{Settings, Sources};
use ghr::world::docker::Docker;
use ghr::world::image::{ensure, Ready};
use std::collections::HashMap;
use std::process::Command;
use testkit::lab::{docker_ready, Ghr, TempDir};

fn settings(tag: &str) -> Settings {
    // The custom image is chosen by name (a Dockerfile that merely lies there is not used).
    let file: HashMap<String, String> = [
        ("ORG", "acme"),
        ("RUNNER_CUSTOM_IMAGE", tag),
        ("RUNNER_DOCKERFILE", "Dockerfile"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Settings::resolve(&Sources::from_maps(HashMap::new(), file)).unwrap()
}

/// Removes the test image even when the test fails.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// The two tests build and remove FROM-scratch images; run at once, the legacy builder once
/// took a layer the other test's clean-up had just removed as a cache hit ("unable to find
/// image sha256:..."), so they take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn rebuilds_exactly_when_the_dockerfile_changes_or_the_image_is_missing() {
    if !docker_ready("rebuilds_exactly_when_the_dockerfile_changes_or_the_image_is_missing") {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("image");
    let tag = format!("ghr-test-image-{}:1", std::process::id());
    let _guard = ImageGuard(tag.clone());
    let s = settings(&tag);
    let docker = Docker::new();
    let hash_file = dir.path().join(".dockerfile.acme.sha256");
    std::fs::write(dir.path().join("hello.txt"), "hello").unwrap();
    // No USER: these images would run as root, root on purpose because nothing runs them;
    // they hold a file, are only built, and test the rebuild decision (runners run from
    // the uid-1001 test image of testkit).
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .unwrap();

    let built = |expect: bool, why: &str| {
        let ready = ensure(&s, &docker, dir.path(), false).expect(why);
        assert_eq!(
            ready,
            Ready {
                image: tag.clone(),
                built: expect
            },
            "{why}"
        );
    };
    built(true, "first run builds");
    let first_hash = std::fs::read_to_string(&hash_file).unwrap();
    built(false, "no change, no build");

    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hi.txt\n",
    )
    .unwrap();
    built(true, "a changed Dockerfile rebuilds");
    let second_hash = std::fs::read_to_string(&hash_file).unwrap();
    assert_ne!(first_hash, second_hash);
    built(false, "and only once");

    let out = Command::new("docker")
        .args(["rmi", "-f", &tag])
        .output()
        .unwrap();
    assert!(out.status.success());
    built(true, "a missing image is rebuilt");

    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY missing.txt /x\n",
    )
    .unwrap();
    let err = ensure(&s, &docker, dir.path(), false).unwrap_err();
    assert_eq!(ghr::cli::exit::Exit::of(&err), ghr::cli::exit::Exit::Docker);
    assert!(err.to_string().contains("docker build of"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&hash_file).unwrap(),
        second_hash,
        "a failed build keeps the old hash"
    );
}

#[test]
fn ghr_image_forces_a_rebuild_and_compose_names_the_custom_image() {
    if !docker_ready("ghr_image_forces_a_rebuild_and_compose_names_the_custom_image") {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tag = format!("ghr-test-image-force-{}:1", std::process::id());
    let _guard = ImageGuard(tag.clone());
    let ghr = Ghr::new(env!("CARGO_BIN_EXE_ghr"), "image-cmd").env_file(&format!(
        "ORG=acme\nRUNNER_CUSTOM_IMAGE={tag}\nRUNNER_NAME_PREFIX=img\nMAP_USB_DEVICE=0\n"
    ));
    // Built, never run (no container of it starts): its missing USER is root on purpose.
    std::fs::write(
        ghr.dir.path().join("Dockerfile"),
        "FROM scratch\nLABEL ghr.test=1\n",
    )
    .unwrap();
    for _ in 0..2 {
        // Every `ghr image` builds.
        ghr.run(&["image"])
            .ok()
            .stderr_line(&format!("Building {tag} from Dockerfile (asked for)"));
    }
    ghr.run(&["compose", "-n", "1"]).ok();
    let compose = ghr.file("docker-compose.acme.yml").unwrap();
    assert!(compose.contains(&format!("image: {tag}")), "{compose}");

    std::fs::remove_file(ghr.dir.path().join("Dockerfile")).unwrap();
    // No Dockerfile is a settings problem.
    ghr.run(&["image"])
        .code(3)
        .error_line("there is no ./Dockerfile to build");
}
