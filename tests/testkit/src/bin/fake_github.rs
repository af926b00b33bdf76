//! `fake-github --port P [--org O]... [--repo O/R]... [--pat PAT[=scope,scope]]...`:
//! serves the fake GitHub until killed, printing its URL first.

fn main() {
    let mut port = 0u16;
    let (mut orgs, mut repos, mut pats) = (Vec::new(), Vec::new(), Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match a.as_str() {
            "--port" => port = value().parse().unwrap_or(0),
            "--org" => orgs.push(value()),
            "--repo" => repos.push(value()),
            "--pat" => pats.push(value()),
            "-h" | "--help" => {
                println!(
                    "usage: fake-github [--port P] [--org O]... [--repo OWNER/REPO]... \
                     [--pat PAT[=admin:org,repo]]...\n(port 0 or none = random; a PAT without \
                     scopes gets admin:org and repo)"
                );
                return;
            }
            other => {
                eprintln!("fake-github: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let gh = match testkit::FakeGitHub::start_on(port) {
        Ok(gh) => gh,
        Err(e) => {
            eprintln!("fake-github: {e}");
            std::process::exit(1);
        }
    };
    for o in &orgs {
        gh.add_org(o);
    }
    for r in &repos {
        if let Some((o, r)) = r.split_once('/') {
            gh.add_repo(o, r);
        }
    }
    for p in &pats {
        let (pat, scopes) = p.split_once('=').unwrap_or((p, "admin:org,repo"));
        let scopes: Vec<&str> = scopes.split(',').collect();
        gh.add_pat(pat, &scopes);
    }
    println!("{}", gh.url());
    loop {
        std::thread::park();
    }
}
