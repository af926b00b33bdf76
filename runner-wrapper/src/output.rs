//! The runner's stdout, piped through the wrapper: re-printed line by line and scanned for the
//! Listener's "Job X completed with result: Y" line (a release safety net).
//!
//! `sync()` processes everything already written to the pipe. The wrapper calls it when a job's
//! started hook asks for the lock: the runner prints the previous job's completion line before it
//! runs the next job's hook, so after `sync()` that line can no longer be read late and release
//! the *next* job's lock.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

type LineFn = Box<dyn Fn(&str) + Send + Sync>;

pub struct OutputPump {
    fd: RawFd,
    state: Mutex<State>,
    on_line: LineFn,
}

struct State {
    src: Box<dyn Read + Send>,
    partial: Vec<u8>,
}

/// Bytes readable from `fd` without blocking.
fn available(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int into `n`.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if rc < 0 {
        0
    } else {
        n.max(0) as usize
    }
}

impl OutputPump {
    pub fn new<R: Read + AsRawFd + Send + 'static>(src: R, on_line: LineFn) -> Arc<OutputPump> {
        Arc::new(OutputPump {
            fd: src.as_raw_fd(),
            state: Mutex::new(State {
                src: Box::new(src),
                partial: Vec::new(),
            }),
            on_line,
        })
    }

    /// Pump until EOF (the runner and everything holding its stdout exited).
    pub fn run(&self) {
        loop {
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; blocks until data or hang-up (not a timed poll).
            let rc = unsafe { libc::poll(&mut pfd, 1, -1) };
            if rc < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            let mut st = self.lock();
            let n = self.drain(&mut st);
            if n == 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                let rest = std::mem::take(&mut st.partial);
                if !rest.is_empty() {
                    self.emit(&rest);
                }
                break;
            }
        }
    }

    /// Process every byte already in the pipe.
    pub fn sync(&self) {
        let mut st = self.lock();
        self.drain(&mut st);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read what is available (never blocks) and handle complete lines. Returns bytes read.
    fn drain(&self, st: &mut State) -> usize {
        let mut total = 0;
        loop {
            let n = available(self.fd);
            if n == 0 {
                return total;
            }
            let mut buf = vec![0u8; n.min(1 << 16)];
            let got = match st.src.read(&mut buf) {
                Ok(0) | Err(_) => return total,
                Ok(g) => g,
            };
            total += got;
            st.partial.extend_from_slice(&buf[..got]);
            while let Some(i) = st.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = st.partial.drain(..=i).collect();
                self.emit(&line);
            }
        }
    }

    fn emit(&self, line: &[u8]) {
        {
            let mut o = io::stdout().lock();
            let _ = o.write_all(line);
            let _ = o.flush();
        }
        (self.on_line)(&String::from_utf8_lossy(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn sync_handles_what_is_written_and_run_ends_at_eof() {
        let (mut w, r) = UnixStream::pair().unwrap();
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let s2 = seen.clone();
        let pump = OutputPump::new(r, Box::new(move |l| s2.lock().unwrap().push(l.into())));
        w.write_all(b"one\nJob x completed with result: Succeeded\npart")
            .unwrap();
        pump.sync();
        assert_eq!(
            *seen.lock().unwrap(),
            ["one\n", "Job x completed with result: Succeeded\n"]
        );
        w.write_all(b"ial").unwrap();
        drop(w);
        pump.run();
        assert_eq!(seen.lock().unwrap().last().unwrap(), "partial");
    }
}
