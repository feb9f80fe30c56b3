//! A real HTTP/1.1 server on 127.0.0.1:0 that records each request and answers as told.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub(super) struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// How to answer one request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reply {
    pub status: u16,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            delay: Duration::ZERO,
        }
    }

    pub fn after(delay: Duration) -> Reply {
        Reply { status: 200, delay }
    }
}

/// The server; stops when dropped.
pub(super) struct Receiver {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Answers 200 to everything.
    pub async fn ok() -> Receiver {
        Receiver::start(vec![Reply::status(200)]).await
    }

    /// Answers request `n` with `replies[n]`, and later ones with the last reply.
    pub async fn start(replies: Vec<Reply>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let recorded = Arc::clone(&recorded);
                let replies = replies.clone();
                tokio::spawn(async move { serve(stream, recorded, &replies).await });
            }
        });
        Receiver {
            addr,
            requests,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A URL where nothing listens: connections are refused.
pub(super) async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/down")
}

/// Reads requests on one connection until it closes, answering each.
async fn serve(mut stream: TcpStream, recorded: Arc<Mutex<Vec<Recorded>>>, replies: &[Reply]) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let reply = {
            let mut all = recorded.lock().unwrap();
            all.push(request);
            replies[(all.len() - 1).min(replies.len() - 1)]
        };
        tokio::time::sleep(reply.delay).await;
        let body = if reply.status < 300 {
            "ok"
        } else {
            "no_service"
        };
        let head = format!(
            "HTTP/1.1 {} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            reply.status,
            body.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        read_more(stream, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let start = head_end + 4;
    while buf.len() < start + length {
        read_more(stream, buf).await?;
    }
    let body = buf[start..start + length].to_vec();
    buf.drain(..start + length);
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}
