//! A ghr running in the background, for the tests that interrupt it: its stderr is collected
//! as it comes, and it can be waited for, signalled or killed. Dropping it kills it.

use crate::lab::{Fleet, Out};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Background {
    what: String,
    pub child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// `ghr ARGS` in the fleet's directory and environment.
    pub fn start(fleet: &Fleet, args: &[&str]) -> Background {
        let mut child = fleet
            .ghr
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ghr starts");
        let (stderr, reader) = collect(child.stderr.take().unwrap());
        Background {
            what: format!("ghr {}", args.join(" ")),
            child,
            stderr,
            reader: Some(reader),
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until its stderr holds `text`; false on timeout.
    pub fn wait_stderr(&self, text: &str, timeout: Duration) -> bool {
        poll(timeout, || self.stderr().contains(text))
    }

    /// SIGKILL to ghr alone (not its children: what `kill -9 <pid>` does); its stderr.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_reader();
        self.stderr()
    }

    /// Sends `signal` (e.g. "-INT") to ghr alone and waits for it to exit: its exit code
    /// (128 + the signal for a ghr the signal ended before it took the signals over, as the
    /// shell would say), and its stderr.
    pub fn signal(mut self, signal: &str) -> (Option<i32>, String) {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        self.join_reader();
        let code = status
            .code()
            .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s));
        (code, self.stderr())
    }

    /// Waits for it to end by itself.
    pub fn finish(mut self) -> Out {
        let status = self.child.wait().expect("ghr ends");
        self.join_reader();
        Out {
            what: self.what.clone(),
            code: status.code(),
            stdout: String::new(),
            stderr: self.stderr(),
        }
    }

    fn join_reader(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` to its end on a thread of its own, into the returned text as it comes (a
/// test can look at what a process printed so far while it runs).
pub fn collect(
    mut pipe: impl Read + Send + 'static,
) -> (Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (text, reader)
}

/// Polls `cond` every 20 ms (Docker and GitHub state change fast here); false on timeout.
pub fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
