//! A registry stand-in for timer tests: raw HTTP/1.1 over a local socket,
//! answering each request as a script says (a status, a body sent in timed
//! parts, a body cut short, or no answer at all), so that tests under
//! `tokio::time::pause()` can see exactly when a pull gives up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

/// What the stand-in does with one request.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// This status with a small JSON error body.
    Status(u16),
    /// `Content-Length: length`, then each part after its pause; then the
    /// connection is closed (`stall: false`) or kept silent forever.
    Body {
        content_type: &'static str,
        length: usize,
        parts: Vec<(Duration, Vec<u8>)>,
        stall: bool,
    },
    /// Read the request and never answer.
    Hang,
}

impl Reply {
    /// The whole body at once.
    pub(crate) fn ok(content_type: &'static str, body: &[u8]) -> Reply {
        Reply::Body {
            content_type,
            length: body.len(),
            parts: vec![(Duration::ZERO, body.to_vec())],
            stall: false,
        }
    }
}

pub(crate) struct Scripted {
    pub addr: String,
    requests: Arc<AtomicUsize>,
}

impl Scripted {
    /// Serves every request with `script(path, n)`, `n` counting requests
    /// from 0.
    pub(crate) async fn start(
        script: impl Fn(&str, usize) -> Reply + Send + Sync + 'static,
    ) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let script = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (script, counter) = (script.clone(), counter.clone());
                tokio::spawn(async move {
                    let Some(path) = read_request(&socket).await else {
                        return;
                    };
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    answer(socket, script(&path, n)).await;
                });
            }
        });
        Scripted { addr, requests }
    }

    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The path of the request line, once the whole head has arrived.
async fn read_request(socket: &TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        socket.readable().await.ok()?;
        match socket.try_read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
    let text = String::from_utf8_lossy(&head);
    text.split_whitespace().nth(1).map(str::to_string)
}

async fn answer(mut socket: TcpStream, reply: Reply) {
    match reply {
        Reply::Status(code) => {
            let body =
                format!(r#"{{"errors":[{{"code":"UNAVAILABLE","message":"scripted {code}"}}]}}"#);
            let head = format!(
                "HTTP/1.1 {code} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body.as_bytes()).await;
        }
        Reply::Body {
            content_type,
            length,
            parts,
            stall,
        } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            );
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for (pause, bytes) in parts {
                tokio::time::sleep(pause).await;
                if socket.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            if stall {
                std::future::pending::<()>().await;
            }
        }
        Reply::Hang => std::future::pending::<()>().await,
    }
    let _ = socket.shutdown().await;
}
