//! The sockets: the hooks' socket (private runtime dir) and the control socket (lock dir).
//! One thread per connection; everything they hear goes to the event loop as a [`Raw`] event.
//! Both hear only root and our own uid (`SO_PEERCRED`, see `peer`); others are refused in one
//! line, which also goes to our log.

use std::io::{BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;

use super::{PumpSlot, Raw};
use crate::control;
use crate::protocol::{read_request, Reply, Verb};
use crate::state::JobInfo;

pub type ConnIds = Arc<AtomicU64>;

pub fn serve_hooks(listener: UnixListener, tx: Sender<Raw>, pump: PumpSlot, ids: ConnIds) {
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (tx, pump, ids) = (tx.clone(), pump.clone(), ids.clone());
            thread::spawn(move || hook_connection(stream, tx, pump, ids));
        }
    });
}

/// Refuse a caller that is neither root nor us; the refusal goes to our log too.
fn refused(stream: &UnixStream, socket: &str) -> bool {
    match control::caller(stream) {
        Ok(_) => false,
        Err(text) => {
            control::refuse(stream, &text);
            let pid = crate::peer::of(stream).map(|p| p.pid).unwrap_or(0);
            eprintln!(
                "runner-wrapper: {socket} socket: {text} (caller pid {pid}; 0: outside this container)"
            );
            true
        }
    }
}

fn hook_connection(stream: UnixStream, tx: Sender<Raw>, pump: PumpSlot, ids: ConnIds) {
    if refused(&stream, "hook") {
        return;
    }
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let Ok(req) = read_request(&mut reader) else {
        return;
    };
    let conn = ids.fetch_add(1, Ordering::SeqCst);
    match req.verb {
        Verb::Started => {
            // A completion line of the previous job still in the pipe must act before this
            // request, never after it is granted.
            let p = pump.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(p) = p {
                p.sync();
            }
            let job = JobInfo {
                runner: req.get("RUNNER_NAME").into(),
                repository: req.get("GITHUB_REPOSITORY").into(),
                run_id: req.get("GITHUB_RUN_ID").into(),
                run_attempt: req.get("GITHUB_RUN_ATTEMPT").into(),
                job: req.get("GITHUB_JOB").into(),
            };
            if tx
                .send(Raw::Started {
                    conn,
                    job,
                    writer: stream,
                })
                .is_err()
            {
                return;
            }
            // The hook closing its end (killed, gave up, finished) withdraws a waiting request.
            let mut buf = [0u8; 64];
            while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(Raw::Gone { conn });
        }
        Verb::Completed => {
            let _ = tx.send(Raw::Completed {
                conn,
                writer: stream,
            });
        }
    }
}

pub fn serve_control(listener: UnixListener, tx: Sender<Raw>, ids: ConnIds) {
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let (tx, ids) = (tx.clone(), ids.clone());
            // Read first: a dead-socket sweep of another runner connects and closes, saying
            // nothing, and is not worth a refusal in our log.
            thread::spawn(move || match control::read_request(&stream) {
                Ok(Some(_)) if refused(&stream, "control") => {}
                Ok(Some(r)) => {
                    let conn = ids.fetch_add(1, Ordering::SeqCst);
                    let _ = tx.send(Raw::Control {
                        conn,
                        resource: r.resource,
                        force: r.force,
                        by: r.by,
                        writer: stream,
                    });
                }
                // A probe (a dead-socket sweep connects and closes) or garbage.
                _ => {
                    let _ =
                        stream.write_all(Reply::Fail("bad request".into()).to_line().as_bytes());
                }
            });
        }
    });
}
