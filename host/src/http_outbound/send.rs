//! The one way a plugin's request leaves the host: resolve, vet every address, connect to a vetted
//! address itself (no second lookup, so no DNS-rebinding window between check and connect), TLS
//! with the URL's host name, HTTP/1.1 through hyper, bodies counted against their bounds.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_rustls::rustls;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as WasiHttpError, WasiBody};

use super::error::OutboundError;
use super::policy::{Host, Policy, Scheme, Target};
use super::record::RecordOnce;

/// The bounds one request runs under, already narrowed by the guest's request options and the
/// plugin call's deadline.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
    /// The plugin call's deadline: nothing of the request outlives it.
    pub deadline: Instant,
    pub max_request_body: u64,
    pub max_response_body: u64,
}

impl Budget {
    /// The earlier of `now + within` and the call deadline, and whether the deadline is it.
    fn by(&self, within: Duration) -> (Instant, bool) {
        let own = Instant::now() + within;
        if own < self.deadline {
            (own, false)
        } else {
            (self.deadline, true)
        }
    }
}

/// Request headers a plugin may not send: hop-by-hop ones (RFC 9110 §7.6.1; they describe the
/// plugin's connection, which is not the one the host makes) and ones the host alone sets (`host`
/// comes from the URL; forwarding headers would let a plugin speak for other clients).
const STRIPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
    "host",
    "forwarded",
    "via",
    "x-real-ip",
    "client-ip",
    "true-client-ip",
];

/// The `user-agent` of requests whose plugin sets none.
pub const USER_AGENT: &str = concat!("plaza/", env!("CARGO_PKG_VERSION"));

/// Removes what [`STRIPPED`] lists, every `x-forwarded-*` header, and the headers a `connection`
/// header names; sets `host` from the URL and a default `user-agent`.
pub(super) fn sanitize_headers(headers: &mut HeaderMap, target: &Target) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in STRIPPED {
        headers.remove(*name);
    }
    let forwarded: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-forwarded-"))
        .cloned()
        .collect();
    for name in forwarded {
        headers.remove(name);
    }
    if let Ok(host) = HeaderValue::from_str(&target.host_header()) {
        headers.insert(header::HOST, host);
    }
    if !headers.contains_key(header::USER_AGENT) {
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    }
}

/// What one connection is, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Resolves the target, refuses it if any address is inward and not granted literally, and
/// connects to the vetted addresses (in resolver order) — never to a name.
async fn open(policy: &Policy, target: &Target) -> Result<Box<dyn Io>, OutboundError> {
    let addrs: Vec<SocketAddr> = match &target.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, target.port)],
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), target.port))
            .await
            .map_err(|e| OutboundError::Dns {
                host: name.clone(),
                detail: e.to_string(),
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(OutboundError::Dns {
            host: target.host.to_string(),
            detail: "no addresses".to_string(),
        });
    }
    // Every address is checked before any is tried: a name with one public and one inward address
    // is refused outright rather than depending on which the resolver lists first.
    for addr in &addrs {
        policy.check_address(target, addr.ip())?;
    }
    let mut last = None;
    let mut tcp = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(tcp) = tcp else {
        return Err(OutboundError::Connect {
            target: target.to_string(),
            detail: last.map_or_else(|| "no address".to_string(), |e| e.to_string()),
        });
    };
    // Requests are small and latency-bound.
    let _ = tcp.set_nodelay(true);
    match target.scheme {
        Scheme::Http => Ok(Box::new(tcp)),
        Scheme::Https => Ok(Box::new(tls(target, tcp).await?)),
    }
}

/// TLS with certificate verification against the Mozilla roots (`webpki-roots`, compiled in, so
/// the host's trust store cannot be bent by its environment), for the URL's host name. Also the
/// TLS of pushes to an account's developer server (`channels::developer_server`).
pub(crate) async fn tls(
    target: &Target,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, OutboundError> {
    let tls_err = |detail: String, certificate: bool| OutboundError::Tls {
        target: target.to_string(),
        detail,
        certificate,
    };
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // An explicit provider: the process-wide default panics if more than one is compiled in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string(), false))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = match &target.host {
        Host::Ip(ip) => rustls::pki_types::ServerName::IpAddress((*ip).into()),
        Host::Name(n) => rustls::pki_types::ServerName::try_from(n.as_str())
            .map_err(|e| tls_err(e.to_string(), false))?
            .to_owned(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let certificate = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|r| {
                    matches!(
                        r,
                        rustls::Error::InvalidCertificate(_)
                            | rustls::Error::NoCertificatesPresented
                    )
                });
            tls_err(e.to_string(), certificate)
        })
}

/// The rest of an exchange once the response head is in: the connection, which must be driven
/// for the body to arrive.
pub(super) type Connection = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>;

/// Sends a request that passed the grant check (headers sanitised, URI in origin form) to
/// `target`, within `budget`. Returns the response head and its connection.
pub(super) async fn exchange(
    policy: &Policy,
    target: &Target,
    request: http::Request<WasiBody>,
    budget: &Budget,
) -> Result<(http::Response<hyper::body::Incoming>, Connection), OutboundError> {
    let (connect_by, is_deadline) = budget.by(budget.connect);
    let timed_out = |is_deadline: bool, ms: Duration| {
        if is_deadline {
            OutboundError::CallDeadline {
                target: target.to_string(),
            }
        } else {
            OutboundError::ConnectTimeout {
                target: target.to_string(),
                ms: duration_ms(ms),
            }
        }
    };
    let stream = tokio::time::timeout_at(connect_by, open(policy, target))
        .await
        .map_err(|_| timed_out(is_deadline, budget.connect))??;

    let too_large = Arc::new(AtomicBool::new(false));
    let request = request.map(|inner| LimitedRequestBody {
        inner,
        sent: 0,
        limit: budget.max_request_body,
        exceeded: too_large.clone(),
    });
    let protocol = |e: hyper::Error| {
        if too_large.load(Ordering::Relaxed) {
            OutboundError::RequestBodyTooLarge {
                limit: budget.max_request_body,
            }
        } else {
            OutboundError::Protocol {
                target: target.to_string(),
                detail: e.to_string(),
            }
        }
    };
    let (mut sender, conn) = tokio::time::timeout_at(
        connect_by,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| timed_out(is_deadline, budget.connect))?
    .map_err(protocol)?;

    // Until the head arrives, the connection is driven here, alongside the request.
    let (first_byte_by, is_deadline) = budget.by(budget.first_byte);
    let mut conn = Some(conn);
    let mut send = pin!(sender.send_request(request));
    let head = poll_fn(|cx: &mut Context<'_>| {
        if let Poll::Ready(r) = send.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        let Some(c) = conn.as_mut() else {
            return Poll::Pending;
        };
        match Pin::new(c).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                conn = None;
                send.as_mut().poll(cx)
            }
            Poll::Ready(Err(e)) => {
                conn = None;
                Poll::Ready(Err(e))
            }
        }
    });
    let response = match tokio::time::timeout_at(first_byte_by, head).await {
        Err(_) if is_deadline => {
            return Err(OutboundError::CallDeadline {
                target: target.to_string(),
            });
        }
        Err(_) => {
            return Err(OutboundError::FirstByteTimeout {
                target: target.to_string(),
                ms: duration_ms(budget.first_byte),
            });
        }
        Ok(r) => r.map_err(protocol)?,
    };
    let connection: Connection = match conn {
        Some(c) => Box::pin(c),
        None => Box::pin(std::future::ready(Ok(()))),
    };
    Ok((response, connection))
}

pub(super) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The plugin's request body, cut off with an error once it passes the limit (the guest may
/// stream a body of any length after the request has started).
struct LimitedRequestBody {
    inner: WasiBody,
    sent: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl Body for LimitedRequestBody {
    type Data = Bytes;
    type Error = WasiHttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, WasiHttpError>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            self.sent = self.sent.saturating_add(data.len() as u64);
            if self.sent > self.limit {
                self.exceeded.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(WasiHttpError::HttpRequestBodySize(Some(
                    self.limit,
                )))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body as the plugin reads it: counted against the limit (reading stops at it),
/// bounded by the stall timeout and the call deadline, and recorded when it ends.
pub(super) struct ResponseBody {
    inner: hyper::body::Incoming,
    read: u64,
    limit: u64,
    between_bytes: Duration,
    stall: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    target: String,
    record: Option<RecordOnce>,
}

impl ResponseBody {
    pub(super) fn new(
        inner: hyper::body::Incoming,
        budget: &Budget,
        target: &Target,
        record: RecordOnce,
    ) -> Self {
        ResponseBody {
            inner,
            read: 0,
            limit: budget.max_response_body,
            between_bytes: budget.between_bytes,
            stall: Box::pin(tokio::time::sleep(budget.between_bytes)),
            deadline: Box::pin(tokio::time::sleep_until(budget.deadline)),
            target: target.to_string(),
            record: Some(record),
        }
    }

    /// Ends the body with `e`: recorded, and nothing more is read.
    fn fail(&mut self, e: OutboundError) -> Poll<Option<Result<Frame<Bytes>, WasiHttpError>>> {
        tracing::warn!(target = %self.target, error = %e, "outbound response cut off");
        if let Some(r) = self.record.take() {
            r.done(Some(&e));
        }
        Poll::Ready(Some(Err(e.to_wasi())))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = WasiHttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, WasiHttpError>>> {
        let this = &mut *self;
        if this.record.is_none() {
            // Ended (or failed) already: stop reading.
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.read = this.read.saturating_add(data.len() as u64);
                    if this.read > this.limit {
                        return this
                            .fail(OutboundError::ResponseBodyTooLarge { limit: this.limit });
                    }
                }
                let next = Instant::now() + this.between_bytes;
                this.stall.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => this.fail(OutboundError::Protocol {
                target: this.target.clone(),
                detail: e.to_string(),
            }),
            Poll::Ready(None) => {
                if let Some(r) = this.record.take() {
                    r.done(None);
                }
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    let target = this.target.clone();
                    return this.fail(OutboundError::CallDeadline { target });
                }
                if this.stall.as_mut().poll(cx).is_ready() {
                    let e = OutboundError::BetweenBytesTimeout {
                        target: this.target.clone(),
                        ms: duration_ms(this.between_bytes),
                    };
                    return this.fail(e);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.record.is_none() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // The plugin stopped reading (or its call ended): the exchange is over.
        if let Some(r) = self.record.take() {
            r.done(None);
        }
    }
}
