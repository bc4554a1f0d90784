//! Reading the rest of a refused body, so the client can read the refusal.
//!
//! When a handler answers without reading the whole body (413 past a route's limit, 401 on an
//! upload without a token), hyper closes the connection with the rest of the body unread, and
//! the kernel answers the client's next write with a reset. A client that writes its whole body
//! before it reads (ureq, Python's `requests`, most SDKs) then sees "broken pipe" instead of our
//! typed 413. Like nginx's lingering close, this layer reads and discards what is left of a
//! refused body, within bounds, before the answer goes out; the connection then stays usable.
//!
//! Only bodies that can be large are watched (no `Content-Length`, or one past
//! [`WATCH_FROM`]): a small body arrives in one read, and hyper drains that itself. The inbound
//! path's messages are small, so it pays a header lookup and nothing else.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;

/// Bodies declared at or below this many bytes are not watched.
pub const WATCH_FROM: u64 = 64 << 10;

/// How much of a refused body is read before the answer goes out.
#[derive(Clone, Copy, Debug)]
pub struct Linger {
    /// At most this many bytes past what the handler read; a body with more left is cut off
    /// (the connection closes) rather than read.
    pub max_bytes: u64,
    /// At most this long: a client that stalls mid-body is not waited for.
    pub max_time: Duration,
}

impl Default for Linger {
    fn default() -> Self {
        Linger {
            // Enough for any body a few times past the JSON and media limits; a refused 64 MiB
            // plugin upload is cut off rather than read.
            max_bytes: 32 << 20,
            max_time: Duration::from_secs(10),
        }
    }
}

/// The middleware: watches large bodies and drains the rest of one the handler refused.
pub async fn drain_refused_bodies(
    State(linger): State<Linger>,
    req: Request,
    next: Next,
) -> Response {
    if !may_be_large(&req) {
        return next.run(req).await;
    }
    let left_over = Arc::new(Mutex::new(None));
    let req = req.map(|body| {
        Body::new(Reclaimable {
            inner: Some(body),
            left_over: left_over.clone(),
        })
    });
    let response = next.run(req).await;
    if response.status().is_client_error() {
        let rest = left_over.lock().ok().and_then(|mut slot| slot.take());
        if let Some(rest) = rest {
            drain(rest, linger).await;
        }
    }
    response
}

fn may_be_large(req: &Request) -> bool {
    match req.headers().get(http::header::CONTENT_LENGTH) {
        Some(length) => length
            .to_str()
            .ok()
            .and_then(|l| l.parse::<u64>().ok())
            .is_none_or(|l| l > WATCH_FROM),
        None => req.headers().contains_key(http::header::TRANSFER_ENCODING),
    }
}

/// Reads and discards `rest` within `linger`'s bounds; gives up (the connection then closes) when
/// it is longer or slower than that.
async fn drain(mut rest: Body, linger: Linger) {
    if rest.size_hint().lower() > linger.max_bytes {
        return;
    }
    let read = async {
        let mut seen: u64 = 0;
        while let Some(Ok(frame)) = rest.frame().await {
            if let Some(data) = frame.data_ref() {
                seen = seen.saturating_add(data.len() as u64);
                if seen > linger.max_bytes {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(linger.max_time, read).await;
}

/// A request body that, dropped before its end, hands what is left back to the middleware.
struct Reclaimable {
    inner: Option<Body>,
    left_over: Arc<Mutex<Option<Body>>>,
}

impl http_body::Body for Reclaimable {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for Reclaimable {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && !inner.is_end_stream()
            && let Ok(mut slot) = self.left_over.lock()
        {
            *slot = Some(inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use axum::Router;
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;

    use super::*;

    /// A server whose one route takes at most 1 KiB, behind the middleware when `linger` is set.
    async fn serve(linger: Option<Linger>) -> String {
        let mut app = Router::new()
            .route(
                "/small",
                post(|body: Bytes| async move { format!("{} bytes", body.len()) }),
            )
            .layer(DefaultBodyLimit::max(1024));
        if let Some(linger) = linger {
            app = app.layer(axum::middleware::from_fn_with_state(
                linger,
                drain_refused_bodies,
            ));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// Posts `len` bytes the way a simple client does: the whole body, then the answer. Returns
    /// the answer's status line, or the I/O error that cut the exchange short.
    fn post_then_read(addr: &str, len: usize) -> Result<String, std::io::Error> {
        let mut stream = TcpStream::connect(addr)?;
        write!(
            stream,
            "POST /small HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\n\r\n"
        )?;
        let chunk = vec![b'x'; 64 << 10];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            stream.write_all(&chunk[..n])?;
            left -= n;
        }
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&answer);
        Ok(text.lines().next().unwrap_or_default().to_string())
    }

    /// Within the default bound.
    const BIG: usize = 24 << 20;
    /// Far more than loopback socket buffers take in while the server does not read (they grow
    /// only as it reads), so a cut-off client's writes meet the reset rather than finish first.
    const HUGE: usize = 48 << 20;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_writes_its_whole_refused_body_reads_the_413() {
        let addr = serve(Some(Linger::default())).await;
        let status = tokio::task::spawn_blocking(move || {
            let first = post_then_read(&addr, BIG);
            let small = post_then_read(&addr, 10);
            (first, small)
        })
        .await
        .unwrap();
        let (first, small) = status;
        assert!(first.as_ref().is_ok_and(|s| s.contains("413")), "{first:?}");
        assert!(small.as_ref().is_ok_and(|s| s.contains("200")), "{small:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_the_middleware_or_past_its_bound_the_refused_client_is_cut_off() {
        // The failure the middleware exists for: hyper resets the connection mid-body.
        let addr = serve(None).await;
        let bare = tokio::task::spawn_blocking(move || post_then_read(&addr, HUGE))
            .await
            .unwrap();
        assert!(bare.is_err(), "{bare:?}");

        // A body with more left than the bound is not read either.
        let addr = serve(Some(Linger {
            max_bytes: 1 << 20,
            max_time: Duration::from_secs(10),
        }))
        .await;
        let past = tokio::task::spawn_blocking(move || post_then_read(&addr, HUGE))
            .await
            .unwrap();
        assert!(past.is_err(), "{past:?}");
    }

    #[test]
    fn only_bodies_that_may_be_large_are_watched() {
        let with = |name: &str, value: &str| {
            Request::builder()
                .header(name, value)
                .body(Body::empty())
                .unwrap()
        };
        assert!(!may_be_large(&with("content-length", "65536")));
        assert!(may_be_large(&with("content-length", "65537")));
        assert!(may_be_large(&with("content-length", "lots")));
        assert!(may_be_large(&with("transfer-encoding", "chunked")));
        assert!(!may_be_large(&Request::new(Body::empty())));
    }
}
