//! Outbound HTTP for plugins: the standard `wasi:http/outgoing-handler`, with every request
//! checked by the host before it connects.
//!
//! The guest uses `wasi:http` as any component does (so ordinary guest HTTP crates work);
//! wasmtime-wasi-http builds the request and hands it to [`OutboundCall`], the call's
//! `WasiHttpHooks`, whose `send_request` is the only way out. In order, each request:
//! 1. counts against [`MAX_REQUESTS_PER_CALL`] and must start before the call's deadline;
//! 2. must be an absolute `http`/`https` URL whose scheme, host and port some
//!    `http.outbound:<pattern>` grant admits ([`policy`]; `CONNECT` is refused);
//! 3. must declare no body over [`MAX_REQUEST_BODY`] (a streamed body is cut off there);
//! 4. has its host resolved once; **every** address must be public unless a grant names that
//!    address literally ([`address`]), and the host connects to those vetted addresses — there
//!    is no second resolution, hence no DNS-rebinding window;
//! 5. is sent with hop-by-hop and host-controlled headers removed, `host` from the URL, and a
//!    `user-agent` of `plaza/<version>` unless the plugin set one; https verifies the server's
//!    certificate for the URL's host name;
//! 6. gets its response head within [`CONNECT_TIMEOUT`] + [`FIRST_BYTE_TIMEOUT`], and a body of
//!    at most [`MAX_RESPONSE_BODY`] bytes (reading stops beyond it) that never stalls longer than
//!    [`BETWEEN_BYTES_TIMEOUT`]. Nothing outlives the plugin call's deadline.
//!
//! Redirects are not followed (wasi:http has no such notion): a 3xx reaches the plugin as it is,
//! and the request it then makes to the new location is checked from step 1 again.
//!
//! Every request, allowed or refused, produces one [`OutboundRecord`] passed to [`record`].

pub mod address;
pub mod error;
pub mod policy;
pub mod record;
mod send;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::time::Instant;
use wasmtime_wasi_http::{Error as WasiHttpError, RequestOptions, WasiBody, WasiHttpHooks};

pub use self::error::OutboundError;
pub use self::policy::{OutboundPattern, Policy, Target};
pub use self::record::OutboundRecord;
use self::record::{CallLog, Draft, InFlight, RecordOnce};
pub use self::send::USER_AGENT;
pub(crate) use self::send::tls as tls_connect;
use self::send::{Budget, ResponseBody};
use crate::platform::Platform;
use crate::plugins::grants::CallGrants;

/// The largest request body a plugin may send: API calls and webhooks, not uploads.
pub const MAX_REQUEST_BODY: u64 = 1 << 20;
/// The largest response body a plugin may read; the rest is not read. A plugin's whole memory is
/// bounded too, and a response must fit into it alongside everything else.
pub const MAX_RESPONSE_BODY: u64 = 4 << 20;
/// Resolving the host, connecting and the TLS handshake, together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// From the request being sent to the response head.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause inside a response body.
pub const BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests one plugin call may make (refused ones count too, so a plugin looping on a refusal
/// stops producing records).
pub const MAX_REQUESTS_PER_CALL: u32 = 16;

/// The bounds of outbound HTTP; [`Default`] is the constants above. The guest's
/// `request-options` can only shorten the timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    pub max_request_body: u64,
    pub max_response_body: u64,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub between_bytes_timeout: Duration,
    pub max_requests: u32,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        OutboundLimits {
            max_request_body: MAX_REQUEST_BODY,
            max_response_body: MAX_RESPONSE_BODY,
            connect_timeout: CONNECT_TIMEOUT,
            first_byte_timeout: FIRST_BYTE_TIMEOUT,
            between_bytes_timeout: BETWEEN_BYTES_TIMEOUT,
            max_requests: MAX_REQUESTS_PER_CALL,
        }
    }
}

/// Records one outbound request in the account's event log (kind `http_outbound`) and the host's
/// log: the single place both are fed. Synchronous and non-blocking (it may run from a `Drop`).
pub fn record(platform: &Platform, account: &str, rec: &OutboundRecord) {
    let status = rec.status.map(|s| s.to_string()).unwrap_or_default();
    if let Some(why) = rec.refused.as_deref().or(rec.error.as_deref()) {
        tracing::warn!(
            account,
            plugin = %rec.plugin,
            method = %rec.method,
            scheme = %rec.scheme,
            host = %rec.host,
            port = rec.port,
            status = %status,
            refused = rec.refused.is_some(),
            duration_ms = rec.duration_ms,
            error = %why,
            "outbound http request refused or failed"
        );
    } else {
        tracing::info!(
            account,
            plugin = %rec.plugin,
            method = %rec.method,
            scheme = %rec.scheme,
            host = %rec.host,
            port = rec.port,
            status = %status,
            duration_ms = rec.duration_ms,
            "outbound http request"
        );
    }
    let default_port = match rec.scheme.as_str() {
        "https" => 443,
        _ => 80,
    };
    let host = if rec.port == default_port || rec.port == 0 {
        rec.host.clone()
    } else {
        format!("{}:{}", rec.host, rec.port)
    };
    let entry = crate::events::plugin::HttpOutboundEntry {
        plugin: rec.plugin.clone(),
        method: rec.method.clone(),
        host,
        status: rec.status,
        error: rec
            .refused
            .as_ref()
            .map(|r| format!("refused: {r}"))
            .or_else(|| rec.error.clone()),
        duration_ms: rec.duration_ms,
    };
    // Logged when the exchange ended (the entry carries its duration): the log is appended in
    // host-clock order.
    let now = platform.clock.now_ms();
    if let Err(e) = platform.events.log_http_outbound(account, now, &entry) {
        tracing::error!(account, error = %e, "cannot record an outbound request in the event log");
    }
}

/// What `send_request` returns to wasmtime-wasi-http.
type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>,
                ),
                WasiHttpError,
            >,
        > + Send,
>;

/// The installation's grants and where records go, built at the first request of a call (most
/// calls make none, and this keeps their set-up to two `Arc` clones).
struct Session {
    policy: Arc<Policy>,
    log: Arc<CallLog>,
    plugin: String,
}

/// The outbound-HTTP state of one plugin call: the `WasiHttpHooks` of its store.
pub struct OutboundCall {
    platform: Arc<Platform>,
    grants: Arc<CallGrants>,
    limits: OutboundLimits,
    deadline: Instant,
    /// Requests attempted in this call, refused ones included.
    made: u32,
    session: Option<Session>,
}

impl OutboundCall {
    /// The state of a call that acts with `grants` and must be over by `deadline`.
    pub fn new(
        platform: Arc<Platform>,
        grants: Arc<CallGrants>,
        limits: OutboundLimits,
        deadline: Instant,
    ) -> Self {
        OutboundCall {
            platform,
            grants,
            limits,
            deadline,
            made: 0,
            session: None,
        }
    }

    /// Starts a new call on the same store (a warm instance): a fresh request allowance and
    /// record list, and the new call's deadline.
    pub fn start_call(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.made = 0;
        self.session = None;
    }

    /// The records of this call's requests so far (those whose exchange has ended).
    pub fn records(&self) -> Vec<OutboundRecord> {
        self.session
            .as_ref()
            .map(|s| s.log.records())
            .unwrap_or_default()
    }

    fn session(&mut self) -> &Session {
        self.session.get_or_insert_with(|| {
            let (actor, patterns) = self.grants.http_outbound();
            Session {
                policy: Arc::new(Policy::new(&patterns)),
                log: Arc::new(CallLog::new(self.platform.clone(), actor.account)),
                plugin: actor.plugin,
            }
        })
    }

    /// Sends one request of the plugin's through the checks of this module (see the module
    /// docs); what `WasiHttpHooks::send_request` does.
    pub fn send(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> SendFuture {
        let started = Instant::now();
        self.made = self.made.saturating_add(1);
        let made = self.made;
        let limits = self.limits;
        let deadline = self.deadline;
        let session = self.session();
        let policy = session.policy.clone();
        let log = session.log.clone();
        let target = Target::from_uri(request.uri());
        let draft = Draft::new(
            &session.plugin,
            request.method(),
            request.uri(),
            target.as_ref().ok(),
            started,
        );

        let budget = budget(&limits, options, deadline);
        let checked = check(&policy, &limits, made, deadline, target, request);
        let (target, request) = match checked {
            Ok(ok) => ok,
            Err(e) => {
                // Past the allowance only the first refusal is recorded: the count bounds records.
                if made <= limits.max_requests.saturating_add(1) {
                    log.push(draft.refused(&e));
                }
                return Box::new(std::future::ready(Err(e.to_wasi())));
            }
        };

        let in_flight = InFlight::new(log, draft, &target);
        Box::new(async move {
            let exchanged = send::exchange(&policy, &target, request, &budget).await;
            // Settled: from here every path records; until here, dropping this future did.
            let (log, draft) = in_flight.settle();
            let (response, connection) = match exchanged {
                Ok(ok) => ok,
                Err(e) => {
                    log.push(if e.is_refusal() {
                        draft.refused(&e)
                    } else {
                        draft.failed(None, &e)
                    });
                    return Err(e.to_wasi());
                }
            };
            let status = response.status().as_u16();
            // A declared length over the limit fails before the plugin reads a byte.
            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > budget.max_response_body) {
                let e = OutboundError::ResponseBodyTooLarge {
                    limit: budget.max_response_body,
                };
                log.push(draft.failed(Some(status), &e));
                return Err(e.to_wasi());
            }
            let record = RecordOnce::new(log, draft, status);
            let response = response
                .map(|body| ResponseBody::new(body, &budget, &target, record).boxed_unsync());
            // The connection carries the body; it too ends at the call's deadline (and when the
            // store drops, wasmtime aborts it).
            let io = async move {
                match tokio::time::timeout_at(budget.deadline, connection).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(WasiHttpError::Hyper(e)),
                    Err(_) => Err(WasiHttpError::HttpResponseTimeout),
                }
            };
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// The bounds of one request: the limits, shortened by the guest's options, within the deadline.
fn budget(limits: &OutboundLimits, options: Option<RequestOptions>, deadline: Instant) -> Budget {
    let opts = options.unwrap_or_default();
    let narrow = |own: Duration, guest: Option<Duration>| guest.map_or(own, |g| g.min(own));
    Budget {
        connect: narrow(limits.connect_timeout, opts.connect_timeout),
        first_byte: narrow(limits.first_byte_timeout, opts.first_byte_timeout),
        // Tokio's timers need a non-zero period to make progress.
        between_bytes: narrow(limits.between_bytes_timeout, opts.between_bytes_timeout)
            .max(Duration::from_millis(1)),
        deadline,
        max_request_body: limits.max_request_body,
        max_response_body: limits.max_response_body,
    }
}

/// The checks made before anything touches the network (steps 1–3 of the module docs), and the
/// request made ready to send: sanitised headers, URI in origin form.
fn check(
    policy: &Policy,
    limits: &OutboundLimits,
    made: u32,
    deadline: Instant,
    target: Result<Target, OutboundError>,
    mut request: http::Request<WasiBody>,
) -> Result<(Target, http::Request<WasiBody>), OutboundError> {
    if made > limits.max_requests {
        return Err(OutboundError::TooManyRequests {
            limit: limits.max_requests,
        });
    }
    if Instant::now() >= deadline {
        return Err(OutboundError::DeadlinePassed);
    }
    if request.method() == http::Method::CONNECT {
        return Err(OutboundError::MethodNotAllowed(
            request.method().as_str().to_string(),
        ));
    }
    let target = target?;
    policy.check(&target)?;
    // The length the plugin declared, or the least its body says it holds.
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        .max(http_body::Body::size_hint(request.body()).lower());
    if declared > limits.max_request_body {
        return Err(OutboundError::RequestBodyTooLarge {
            limit: limits.max_request_body,
        });
    }
    send::sanitize_headers(request.headers_mut(), &target);
    // The request line carries the path only; the authority went into `host`.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|e| OutboundError::InvalidRequest(e.to_string()))?;
    Ok((target, request))
}

impl WasiHttpHooks for OutboundCall {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), WasiHttpError>> + Send>,
    ) -> SendFuture {
        self.send(request, options)
    }
}
