//! A terminal for the tests that need one: prompts and confirmations.

use crate::lab::Ghr;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// ghr on a real pseudo-terminal (util-linux `script`), typed into like a person would.
pub struct Terminal {
    child: std::process::Child,
    pub stdin: std::process::ChildStdin,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    pub screen: String,
}

impl Terminal {
    /// Runs `ghr_bin ARGS` in `ghr`'s directory and environment.
    pub fn start(ghr: &Ghr, ghr_bin: &str, args: &str) -> Terminal {
        let cmd = ghr.command(&[]);
        let ghr_cmd = format!("{ghr_bin} {args}");
        let mut c = std::process::Command::new("script");
        c.args(["-q", "-e", "-c", &ghr_cmd, "/dev/null"]);
        c.current_dir(ghr.dir.path()).env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c.env("TERM", "dumb");
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("util-linux `script` is installed");
        let stdin = child.stdin.take().unwrap();
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            stdin,
            rx,
            screen: String::new(),
        }
    }

    /// Waits until the screen shows `needle` (at most 20 s) after what it showed so far.
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.screen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => self.screen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("no {needle:?} on the terminal; saw: {}", self.screen),
            }
        }
    }

    /// Types `line` and Enter, once the screen shows `marker` for the `nth` time (a prompt
    /// shows twice once answered, so count the line that comes before it).
    pub fn answer(&mut self, marker: &str, nth: usize, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.screen.matches(marker).count() < nth {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => self.screen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("no {marker:?} #{nth} on the terminal; saw: {}", self.screen),
            }
        }
        // The prompt is drawn right after its marker; a line typed before it may be dropped.
        std::thread::sleep(Duration::from_millis(300));
        self.stdin
            .write_all(format!("{line}\r").as_bytes())
            .unwrap();
    }

    pub fn finish(&mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        while let Ok(bytes) = self.rx.recv_timeout(Duration::from_millis(200)) {
            self.screen.push_str(&String::from_utf8_lossy(&bytes));
        }
        (status, self.screen.clone())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // A failed test leaves no ghr waiting at a prompt.
        let _ = self.child.kill();
    }
}
