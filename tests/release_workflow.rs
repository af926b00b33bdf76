//! The release workflow (`.github/workflows/release.yml`) is what the README offers first: a
//! static ghr for x86-64 and aarch64 Linux with sha256 sums, on a version tag. It cannot run
//! here (no GitHub); this checks that it says what the README promises.

use serde_yaml::Value;

fn workflow() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/release.yml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("the release workflow exists"))
        .expect("it is YAML")
}

#[test]
fn builds_static_binaries_of_both_architectures_on_a_tag() {
    let wf = workflow();
    let tags = &wf["on"]["push"]["tags"];
    assert!(
        tags.as_sequence()
            .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("v*"))),
        "runs on version tags: {tags:?}"
    );
    let include = wf["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .expect("a build matrix");
    let targets: Vec<&str> = include
        .iter()
        .filter_map(|m| m["target"].as_str())
        .collect();
    assert_eq!(
        targets,
        ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]
    );
    let steps = serde_yaml::to_string(&wf["jobs"]["build"]["steps"]).unwrap();
    assert!(steps.contains("--locked"), "{steps}");
    assert!(steps.contains("sha256sum"), "{steps}");
    assert!(
        steps.contains("ldd"),
        "the binary is checked to be static: {steps}"
    );
    // The static flag comes from .cargo/config.toml, for both targets.
    let config =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.cargo/config.toml"))
            .unwrap();
    for target in targets {
        assert!(
            config.contains(&format!(
                "[target.{target}]\nrustflags = [\"-C\", \"target-feature=+crt-static\"]"
            )),
            "{target} is built static"
        );
    }
    let release = serde_yaml::to_string(&wf["jobs"]["release"]).unwrap();
    assert!(release.contains("SHA256SUMS"), "{release}");
}
