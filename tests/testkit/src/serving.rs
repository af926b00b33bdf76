//! `ghr serve` for the benches: on a free port of 127.0.0.1, ready once it answers
//! `/healthz`, killed on drop. (The tests' own `Serve` also keeps its output and talks JSON.)

use crate::lab::Ghr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct ServeProcess {
    child: Child,
    pub port: u16,
}

impl ServeProcess {
    /// `ghr serve` of `ghr`'s directory, its output discarded.
    pub fn start(ghr: &Ghr) -> ServeProcess {
        let port = free_port();
        let child = ghr
            .command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ghr serve starts");
        let serve = ServeProcess { child, port };
        let url = format!("http://127.0.0.1:{port}/healthz");
        let end = Instant::now() + Duration::from_secs(20);
        while crate::http_client::request("GET", &url, &[], None, Duration::from_secs(2))
            .map_or(true, |r| r.status != 200)
        {
            assert!(Instant::now() < end, "ghr serve answers /healthz");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
