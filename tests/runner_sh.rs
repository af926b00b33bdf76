//! Coming from runner.sh, end to end: a fleet runner.sh made (its compose file, its compose
//! project named after its directory, volumes named `<prefix>runner-N-data`, registrations
//! made by `config.sh` in `compose run`), and one an older ghr made (volumes named
//! `<project>_<runner>-data`), taken over by `ghr init` without a single new registration;
//! the working directory moved; and `REG_TOKEN` without a PAT.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use testkit::lab::{docker, docker_ready, Fleet, Ghr, Lab};
use testkit::{FakeGitHub, Scope};

const SCOPE: Scope<'static> = Scope::Org(testkit::lab::ORG);

/// A compose file the way runner.sh writes one (services with container_name, fixed volume
/// names, network_mode host), for `runners` of `fleet`.
fn runner_sh_compose(fleet: &Fleet, runners: &[&str]) -> String {
    let image = testkit::lab::test_image();
    let mut text = String::from("services:\n");
    for short in runners {
        let name = fleet.name(short);
        text.push_str(&format!(
            "  {name}:\n    image: \"{image}\"\n    restart: unless-stopped\n    network_mode: host\n    \
             container_name: \"{name}\"\n    command: [\"/home/runner/run.sh\"]\n    environment:\n      \
             RUNNER_NAME: \"{name}\"\n      RUNNER_LABELS: \"intel\"\n    volumes:\n      - {name}-data:/home/runner\n"
        ));
    }
    text.push_str("volumes:\n");
    for short in runners {
        let name = fleet.name(short);
        text.push_str(&format!("  {name}-data:\n    name: {name}-data\n"));
    }
    text
}

/// `docker-compose -p <project> -f <file> <args>` in `dir`, which must succeed.
fn compose(dir: &Path, project: &str, file: &str, args: &[&str]) {
    let empty = dir.join("empty.env");
    std::fs::write(&empty, "").unwrap();
    let out = Command::new("docker-compose")
        .arg("--env-file")
        .arg(&empty)
        .args(["-p", project, "-f", file])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("docker-compose runs");
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Registers `service` the way runner.sh does: config.sh in `compose run --rm --no-deps`.
fn register_like_runner_sh(gh: &FakeGitHub, dir: &Path, project: &str, file: &str, name: &str) {
    let token = gh.registration_token(&SCOPE);
    let url = format!("{}/{}", gh.url(), testkit::lab::ORG);
    compose(
        dir,
        project,
        file,
        &[
            "run",
            "--rm",
            "--no-deps",
            name,
            "/home/runner/config.sh",
            "--url",
            &url,
            "--token",
            &token,
            "--name",
            name,
            "--labels",
            "intel",
            "--runnergroup",
            "Default",
            "--unattended",
            "--replace",
        ],
    );
}

/// GitHub's id of each runner, by name, and whether it is online.
fn ids(gh: &FakeGitHub, names: &[String]) -> Vec<(String, u64, String)> {
    names
        .iter()
        .map(|n| {
            let r = gh
                .runner(&SCOPE, n)
                .unwrap_or_else(|| panic!("{n} is registered"));
            (n.clone(), r.id, r.status)
        })
        .collect()
}

fn all_online(gh: &FakeGitHub, names: &[String]) -> bool {
    gh.wait_until(Duration::from_secs(60), |gh| {
        names
            .iter()
            .all(|n| gh.runner(&SCOPE, n).is_some_and(|r| r.status == "online"))
    })
}

fn registration_tokens(gh: &FakeGitHub) -> usize {
    gh.count("POST", "registration-token")
}

#[test]
fn a_runner_sh_fleet_and_an_older_ghrs_are_taken_over_without_registering_again() {
    if !docker_ready("a_runner_sh_fleet_and_an_older_ghrs_are_taken_over_without_registering_again")
    {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let gh = &lab.gh;
    let fleet = lab.fleet("rsh").build();
    let dir = fleet.ghr.dir.path().to_path_buf();
    let names: Vec<String> = (1..=3).map(|i| fleet.name(&i.to_string())).collect();

    // runner.sh's fleet, project "github-runners" (its directory): runner-1 registered and
    // running; runner-2 registered on its volume, its container gone.
    std::fs::write(
        dir.join("runner-sh.yml"),
        runner_sh_compose(&fleet, &["1", "2"]),
    )
    .unwrap();
    for name in &names[..2] {
        register_like_runner_sh(gh, &dir, "github-runners", "runner-sh.yml", name);
    }
    compose(
        &dir,
        "github-runners",
        "runner-sh.yml",
        &["up", "-d", &names[0]],
    );

    // An older ghr (compose project "lab", no fixed volume names): runner-3, registered.
    // Its compose file is ghr's own, with the volumes' `name:` lines taken out.
    fleet.ghr(&["compose", "-n", "3"]).ok();
    let current = fleet.ghr.file("docker-compose.acme.yml").unwrap();
    let older: String = current
        .lines()
        .filter(|l| !l.trim_start().starts_with("name: "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("older.yml"), older).unwrap();
    register_like_runner_sh(gh, &dir, "lab", "older.yml", &names[2]);
    compose(&dir, "lab", "older.yml", &["up", "-d", &names[2]]);
    let old_volume = format!("lab_{}-data", names[2]);
    assert!(
        fleet.volumes().contains(&old_volume),
        "{:?}",
        fleet.volumes()
    );
    assert!(
        all_online(gh, &[names[0].clone(), names[2].clone()]),
        "the old fleets run:\n{}",
        fleet.logs(&names[0], 30)
    );
    let before = ids(gh, &names);
    gh.clear_requests();

    // ghr takes all of it over.
    let out = fleet.ghr(&["init", "-n", "3"]).ok();
    assert_eq!(
        registration_tokens(gh),
        0,
        "nothing registers again:\n{}",
        out.stderr
    );
    for line in [
        format!(
            "took over {}: runner.sh made it (compose project github-runners)",
            names[0]
        ),
        format!(
            "took over {}: an older ghr made it under compose project lab",
            names[2]
        ),
        // The older ghr's compose made every volume of its file; runner.sh's are used.
        format!(
            "{}: volume lab_{}-data (an older naming) is not used, since {}-data is",
            names[0], names[0], names[0]
        ),
    ] {
        assert!(out.stderr.contains(&line), "{line}\n{}", out.stderr);
    }
    assert!(
        out.stderr
            .contains(&format!("{old_volume} carried over into {}-data", names[2])),
        "{}",
        out.stderr
    );
    assert!(
        all_online(gh, &names),
        "every runner is online:\n{}",
        fleet.logs(&names[1], 30)
    );
    let after = ids(gh, &names);
    let id_of = |v: &[(String, u64, String)]| {
        v.iter()
            .map(|(n, id, _)| (n.clone(), *id))
            .collect::<Vec<_>>()
    };
    assert_eq!(id_of(&after), id_of(&before), "the same registrations");
    assert_eq!(gh.runners(&SCOPE).len(), 3, "no duplicates on GitHub");
    for name in &names {
        assert_eq!(
            fleet.inspect(name, "{{index .Config.Labels \"com.docker.compose.project\"}} {{index .Config.Labels \"ghr.prefix\"}}"),
            format!("ghr-{} {}", fleet.prefix.trim_end_matches('-'), fleet.prefix),
            "{name} is ghr's now"
        );
        assert_eq!(
            fleet.inspect(
                name,
                "{{range .Mounts}}{{if eq .Destination \"/home/runner\"}}{{.Name}}{{end}}{{end}}"
            ),
            format!("{name}-data")
        );
    }
    let volumes = fleet.volumes();
    assert!(
        !volumes.contains(&old_volume),
        "the old volume is gone after the copy: {volumes:?}"
    );

    // A second init changes nothing; so does one from a copy of the directory.
    gh.clear_requests();
    fleet.ghr(&["init"]).ok().stdout_line(&format!(
        "3 runners of {} are as the settings say; nothing to do",
        testkit::lab::ORG
    ));
    let moved = Ghr::new(env!("CARGO_BIN_EXE_ghr"), "moved")
        .env_file(&std::fs::read_to_string(dir.join(".env")).unwrap());
    std::fs::copy(
        dir.join("docker-compose.acme.yml"),
        moved.path("docker-compose.acme.yml"),
    )
    .unwrap();
    moved.run(&["init"]).ok().stdout_line(&format!(
        "3 runners of {} are as the settings say; nothing to do",
        testkit::lab::ORG
    ));
    let writes = gh.requests().iter().filter(|r| r.method != "GET").count();
    assert_eq!(writes, 0, "no write call to GitHub");

    // And `ghr rm` finds every one of them, runner.sh's unlabelled volumes too.
    fleet.ghr(&["rm", "-y"]).ok();
    assert!(gh.runners(&SCOPE).is_empty());
    assert!(fleet.volumes().is_empty(), "{:?}", fleet.volumes());
    assert!(
        docker(&["ps", "-aq", "--filter", &format!("name={}", fleet.prefix)])
            .trim()
            .is_empty()
    );
}

#[test]
fn reg_token_registers_without_a_pat_and_list_says_the_pat_is_needed() {
    if !docker_ready("reg_token_registers_without_a_pat_and_list_says_the_pat_is_needed") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let gh = &lab.gh;
    let token = gh.registration_token(&SCOPE);
    let fleet = lab
        .fleet("regtok")
        .env("GH_PAT=")
        .env(&format!("REG_TOKEN={token}"))
        .build();
    gh.clear_requests();
    let out = fleet.ghr(&["init", "-n", "1"]).ok().hides(&token);
    assert!(
        out.stderr
            .contains("GH_PAT is not set: runners register with REG_TOKEN"),
        "{}",
        out.stderr
    );
    let name = fleet.name("1");
    assert!(
        all_online(gh, std::slice::from_ref(&name)),
        "{}",
        fleet.logs(&name, 30)
    );
    let rest = gh
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/orgs/"))
        .count();
    assert_eq!(rest, 0, "no REST call at all: the token was used as given");
    let compose = fleet.ghr.file("docker-compose.acme.yml").unwrap();
    assert!(
        !compose.contains(&token),
        "the token is not in the compose file"
    );
    assert!(!fleet.inspect(&name, "{{.Config.Env}}").contains(&token));

    // A second init: the registration in the volume stands.
    fleet.ghr(&["init"]).ok().stdout_line(&format!(
        "1 runners of {} are as the settings say; nothing to do",
        testkit::lab::ORG
    ));
    for args in [&["list"][..], &["rm", "-y"][..]] {
        fleet.ghr(args).code(3).error_line(
            "GH_PAT is not set (REG_TOKEN registers runners, but reading and removing them on GitHub takes the PAT)",
        );
    }
    assert_eq!(
        fleet.containers().len(),
        1,
        "rm without the PAT changed nothing"
    );
}
