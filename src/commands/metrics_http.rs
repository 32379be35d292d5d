//! `/metrics` for the processes that are not the API server (`aurum oracle run`, `aurum jobs
//! run`): a small HTTP listener on a thread of its own that answers `GET /metrics` with the
//! Prometheus text a closure renders, and 404 otherwise. One request per connection; a request
//! head larger than [`MAX_REQUEST_BYTES`] or slower than [`READ_TIMEOUT`] is dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Largest request head read.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Longest wait for a request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serve `render()` at `http://addr/metrics` until the process ends; the bound address.
pub fn spawn(addr: SocketAddr, render: impl Fn() -> String + Send + 'static) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new().name("aurum-metrics".into()).spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_BYTES {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&head);
            let ok = line.starts_with("GET /metrics ") || line.starts_with("GET /metrics?");
            let (status, ctype, body) = if ok {
                ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render())
            } else {
                ("404 Not Found", "text/plain; charset=utf-8", "only GET /metrics is served here\n".to_string())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    })?;
    Ok(bound)
}
