//! `config.sh` (register) and `config.sh remove`, with the real runner's flags, env inputs
//! (`ACTIONS_RUNNER_INPUT_<NAME>`), files (`.runner`, `.credentials`) and refusals.

use crate::common::{
    call, is_configured, message, parse_bool, refuses_root, root, take_runner_inputs,
};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
const VALUE_FLAGS: [&str; 6] = ["url", "token", "name", "labels", "runnergroup", "work"];
const BOOL_FLAGS: [&str; 7] = [
    "local",
    "unattended",
    "replace",
    "disableupdate",
    "ephemeral",
    "no-default-labels",
    "help",
];

#[derive(Default, Debug)]
struct Opts {
    values: std::collections::HashMap<String, String>,
    flags: std::collections::HashSet<String>,
    /// `ACTIONS_RUNNER_INPUT_<NAME>` values (taken out of the environment at start).
    inputs: Vec<(String, String)>,
}

impl Opts {
    /// A value from the command line, else from `ACTIONS_RUNNER_INPUT_<NAME>` (the name
    /// compared case-insensitively, exactly as spelled: no `-`/`_` folding).
    fn get(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| self.input(name).map(str::to_string))
            .filter(|v| !v.is_empty())
    }

    fn input(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A flag on the command line, else an input that parses as a .NET boolean; `1`, `yes`
    /// and the like count as false, as in the real runner.
    fn flag(&self, name: &str) -> bool {
        self.flags.contains(name) || self.input(name).and_then(parse_bool).unwrap_or(false)
    }
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        inputs: take_runner_inputs(),
        ..Opts::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let Some(name) = a.strip_prefix("--") else {
            return Err(format!("Unrecognized command-line input arguments: '{a}'"));
        };
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n.to_ascii_lowercase(), Some(v.to_string())),
            None => (name.to_ascii_lowercase(), None),
        };
        if VALUE_FLAGS.contains(&name.as_str()) {
            let v = inline
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("Missing value for argument '--{name}'"))?;
            o.values.insert(name, v);
        } else if BOOL_FLAGS.contains(&name.as_str()) {
            o.flags.insert(name);
        } else {
            return Err(format!(
                "Unrecognized command-line input arguments: '{name}'"
            ));
        }
    }
    Ok(o)
}

const HELP: &str = "Commands:
 ./config.sh         Configures the runner
 ./config.sh remove  Unconfigures the runner
 ./run.sh            Runs the runner interactively. Does not require any options.

Config Options:
 --unattended           Disable interactive prompts for missing arguments.
 --url string           Repository to add the runner to. Required if unattended
 --token string         Registration token. Required if unattended
 --name string          Name of the runner to configure (default <hostname>)
 --runnergroup string   Name of the runner group to add this runner to (defaults to the default runner group)
 --labels string        Custom labels that will be added to the runner. This option is mandatory if --no-default-labels is used.
 --no-default-labels    Disables adding the default labels: 'self-hosted,Linux,X64'
 --work string          Relative runner work directory (default _work)
 --replace              Replace any existing runner with the same name (default false)
 --disableupdate        Disable self-hosted runner automatic update to the latest released version
 --ephemeral            Configure the runner to only take one job and then let the service un-configure the runner after the job finishes (default false)
";

pub fn main(args: &[String]) -> i32 {
    // config.sh checks the user before anything else (it snapshots the config user's env).
    if refuses_root("Must not run with sudo") {
        return 1;
    }
    let (remove, rest) = match args.first().map(String::as_str) {
        Some("remove") => (true, &args[1..]),
        _ => (false, args),
    };
    let opts = match parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if opts.flags.contains("help") {
        print!("{HELP}");
        return 0;
    }
    let result = if remove {
        unconfigure(&opts)
    } else {
        configure(&opts)
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

fn required(opts: &Opts, name: &str) -> Result<String, String> {
    opts.get(name).ok_or_else(|| {
        format!("Invalid configuration provided for {name}. Terminating unattended configuration.")
    })
}

/// `http://host:port/org[/repo]` -> `http://host:port`.
fn server_of(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("Invalid configuration provided for url: {url}"))?;
    let authority = rest.split('/').next().unwrap_or("");
    Ok(format!("http://{authority}"))
}

/// Exchanges a registration/remove token for the pipelines URL and an access token.
fn authenticate(url: &str, token: &str, event: &str) -> Result<(String, String), String> {
    let endpoint = format!("{}/actions/runner-registration", server_of(url)?);
    let (status, v) = call(
        "POST",
        &endpoint,
        &format!("RemoteAuth {token}"),
        Some(&json!({"url": url, "runner_event": event})),
        TIMEOUT,
    )
    .map_err(|e| format!("Failed to connect to {endpoint}: {e}"))?;
    if status != 200 {
        return Err(format!(
            "Http response code: {} from 'POST {endpoint}'\n{}",
            reason(status),
            message(status, &v)
        ));
    }
    let pipelines = v["url"].as_str().unwrap_or_default().to_string();
    let access = v["token"].as_str().unwrap_or_default().to_string();
    Ok((pipelines, format!("Bearer {access}")))
}

fn reason(status: u16) -> &'static str {
    match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        422 => "UnprocessableEntity",
        s if s >= 500 => "InternalServerError",
        _ => "BadRequest",
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "runner".into())
}

/// What config.sh's `env.sh` does before configuring: `.path` holds the config user's PATH,
/// `.env` gains the variables of its list that are set and not in the file yet.
fn snapshot_env(root: &Path) {
    let _ = std::fs::write(
        root.join(".path"),
        format!("{}\n", std::env::var("PATH").unwrap_or_default()),
    );
    let path = root.join(".env");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    for key in ["LANG", "JAVA_HOME", "LD_LIBRARY_PATH"] {
        if let Ok(value) = std::env::var(key) {
            if !value.is_empty() && !text.contains(&format!("{key}=")) {
                text.push_str(&format!("{key}={value}\n"));
            }
        }
    }
    let _ = std::fs::write(&path, text);
}

fn configure(opts: &Opts) -> Result<(), String> {
    let root = root();
    snapshot_env(&root);
    if is_configured(&root) {
        return Err("Cannot configure the runner because it is already configured. To reconfigure the runner, run 'config.cmd remove' or './config.sh remove' first.".into());
    }
    let url = required(opts, "url")?;
    let token = required(opts, "token")?;
    let name = opts.get("name").unwrap_or_else(hostname);
    let group = opts.get("runnergroup").unwrap_or_else(|| "Default".into());
    let work = opts.get("work").unwrap_or_else(|| "_work".into());

    println!("\n# Authentication\n");
    let (pipelines, auth) = authenticate(&url, &token, "register")?;
    println!("√ Connected to GitHub\n\n# Runner Registration\n");

    let api = format!("{pipelines}/_apis/distributedtask");
    let (status, v) = call(
        "GET",
        &format!(
            "{api}/pools?poolName={}",
            testkit::http_client::percent_encode(&group)
        ),
        &auth,
        None,
        TIMEOUT,
    )
    .map_err(|e| e.to_string())?;
    let pool = v["value"][0]["id"]
        .as_u64()
        .filter(|_| status == 200)
        .ok_or_else(|| format!("Could not find any self-hosted runner group named \"{group}\"."))?;

    let mut labels: Vec<Value> = Vec::new();
    if !opts.flag("no-default-labels") {
        for l in ["self-hosted", "Linux", "X64"] {
            labels.push(json!({"name": l, "type": "system"}));
        }
    }
    for l in opts.get("labels").unwrap_or_default().split(',') {
        let l = l.trim();
        let dup = labels.iter().any(|x| {
            x["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(l))
        });
        if !l.is_empty() && !dup {
            labels.push(json!({"name": l, "type": "user"}));
        }
    }
    let agent = json!({
        "name": name, "labels": labels, "version": crate::common::VERSION,
        "osDescription": "Linux", "poolName": group, "ephemeral": opts.flag("ephemeral"),
        "disableUpdate": opts.flag("disableupdate"),
    });
    let agents = format!("{api}/pools/{pool}/agents");
    let (status, found) = call(
        "GET",
        &format!(
            "{agents}?agentName={}",
            testkit::http_client::percent_encode(&name)
        ),
        &auth,
        None,
        TIMEOUT,
    )
    .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(message(status, &found));
    }
    let existing = found["value"][0]["id"].as_u64();
    let (status, created) = match existing {
        Some(_) if !opts.flag("replace") => {
            return Err(format!("A runner exists with the same name {name}."));
        }
        Some(id) => call(
            "PUT",
            &format!("{agents}/{id}"),
            &auth,
            Some(&agent),
            TIMEOUT,
        ),
        None => call("POST", &agents, &auth, Some(&agent), TIMEOUT),
    }
    .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(message(status, &created));
    }
    println!(
        "{}",
        if existing.is_some() {
            "√ Successfully replaced the runner"
        } else {
            "√ Runner successfully added"
        }
    );
    let credentials = json!({
        "scheme": "OAuth",
        "data": {
            "clientId": created["authorization"]["clientId"],
            "authorizationUrl": format!("{pipelines}/_apis/oauth2/token"),
            "requireFipsCryptography": "False",
        },
    });
    let runner = json!({
        "agentId": created["id"],
        "agentName": name,
        "poolId": pool,
        "poolName": group,
        "serverUrl": pipelines,
        "gitHubUrl": url,
        "workFolder": work,
        "disableUpdate": opts.flag("disableupdate"),
        "ephemeral": opts.flag("ephemeral"),
    });
    write(&root.join(".credentials"), &credentials)?;
    write(&root.join(".runner"), &runner)?;
    let _ = std::fs::create_dir_all(root.join(&work));
    println!("√ Runner connection is good\n\n# Runner settings\n\n√ Settings Saved.\n");
    Ok(())
}

fn write(path: &Path, v: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn unconfigure(opts: &Opts) -> Result<(), String> {
    let root = root();
    if opts.flag("local") {
        // `remove --local`: only the local files, GitHub is not asked.
        remove_local_files(&root);
        return Ok(());
    }
    println!("\n# Runner removal\n");
    let settings = crate::common::settings_file(&root, ".runner");
    match settings {
        None => println!("Does not exist. Skipping Removing runner from the server"),
        Some(s) => {
            let token = opts.get("token").ok_or(
                "Invalid configuration provided for token. Terminating unattended configuration.",
            )?;
            let url = s["gitHubUrl"].as_str().unwrap_or_default();
            let (pipelines, auth) = authenticate(url, &token, "remove")?;
            let endpoint = format!(
                "{pipelines}/_apis/distributedtask/pools/{}/agents/{}",
                s["poolId"], s["agentId"]
            );
            let (status, v) =
                call("DELETE", &endpoint, &auth, None, TIMEOUT).map_err(|e| e.to_string())?;
            match status {
                200 | 204 => println!("√ Runner removed successfully"),
                404 => println!("Does not exist. Skipping Removing runner from the server"),
                _ => {
                    return Err(format!(
                        "Failed to remove the runner: {}",
                        message(status, &v)
                    ))
                }
            }
        }
    }
    remove_local_files(&root);
    Ok(())
}

fn remove_local_files(root: &Path) {
    for f in [
        ".credentials",
        ".runner",
        ".credentials_migrated",
        ".runner_migrated",
    ] {
        if !root.join(f).exists() && f.ends_with("_migrated") {
            continue;
        }
        if std::fs::remove_file(root.join(f)).is_ok() {
            println!("√ Removed {f}");
        } else {
            println!("Does not exist. Skipping Removing {f}");
        }
    }
}
