//! A forward HTTP proxy for tests: clients send absolute-form requests
//! (`GET http://host:port/path HTTP/1.1`); it maps the host through a routing function, sends
//! the request on with `Connection: close`, relays the answer and closes. Every request is
//! recorded, so a test can prove that traffic went through it (and fails if it did not).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

type Route = dyn Fn(&str) -> Option<SocketAddr> + Send + Sync;

pub struct ForwardProxy {
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl ForwardProxy {
    /// Listens on 127.0.0.1; `route` maps a request's `host:port` to where it really goes
    /// (`None`: 502).
    pub fn start(route: impl Fn(&str) -> Option<SocketAddr> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("local addr").port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let route: Arc<Route> = Arc::new(route);
        {
            let (hits, stop) = (hits.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (hits, route) = (hits.clone(), route.clone());
                    std::thread::spawn(move || {
                        let _ = relay(stream, &hits, &*route);
                    });
                }
            });
        }
        ForwardProxy { port, hits, stop }
    }

    /// `http://127.0.0.1:<port>`, for `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `METHOD absolute-url` of every request relayed so far.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many relayed requests contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.hits().iter().filter(|h| h.contains(needle)).count()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn relay(client: TcpStream, hits: &Mutex<Vec<String>>, route: &Route) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("proxy-connection") {
                continue;
            }
        }
        headers.push(h);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut client = client;
    let Some(rest) = target.strip_prefix("http://") else {
        return client.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    hits.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{method} {target}"));
    let Some(addr) = route(authority) else {
        return client.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let mut upstream = TcpStream::connect(addr)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for h in headers {
        head.push_str(&h);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&body)?;
    std::io::copy(&mut upstream, &mut client)?;
    Ok(())
}
