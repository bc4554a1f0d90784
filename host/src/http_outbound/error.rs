//! Why an outbound request was refused or failed, and what the guest sees for each.

use std::net::IpAddr;

use wasmtime_wasi_http::Error as WasiHttpError;

use crate::error::PlazaError;

/// A refused or failed outbound request. The message names the destination (scheme, host, port)
/// but never the path, query, headers or body, which may carry secrets.
///
/// The guest sees the `wasi:http` `error-code` of [`OutboundError::to_wasi`]; the message goes to
/// the host's log and the request's [`super::OutboundRecord`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// No `http.outbound` grant admits this scheme, host and port. Guest: `http-request-denied`.
    #[error("outbound request to {target} refused: not granted (granted: {granted})")]
    NotGranted { target: String, granted: String },
    /// The host name resolved to an inward address no grant names. Guest:
    /// `destination-ip-prohibited`.
    #[error(
        "outbound request to {target} refused: the host resolves to {address}, a {reason} \
         address, which only a grant naming {address} itself allows"
    )]
    AddressProhibited {
        target: String,
        address: IpAddr,
        reason: &'static str,
    },
    /// The call already made its allowance of requests. Guest: `connection-limit-reached`.
    #[error("outbound request refused: one plugin call may make at most {limit} requests")]
    TooManyRequests { limit: u32 },
    /// The request body is (or was about to become) larger than allowed. Guest:
    /// `http-request-body-size`.
    #[error("outbound request body is over the limit of {limit} bytes")]
    RequestBodyTooLarge { limit: u64 },
    /// The response body is larger than allowed; reading stopped there. Guest:
    /// `http-response-body-size`.
    #[error("response body is over the limit of {limit} bytes; the rest was not read")]
    ResponseBodyTooLarge { limit: u64 },
    /// The method may not be used outbound (`CONNECT` would open a tunnel past the checks).
    /// Guest: `http-request-method-invalid`.
    #[error("outbound request refused: method {0} is not allowed")]
    MethodNotAllowed(String),
    /// The request is not an absolute http(s) URL. Guest: `http-request-uri-invalid`.
    #[error("invalid outbound request: {0}")]
    InvalidRequest(String),
    /// The plugin call's deadline passed before the request could start. Guest:
    /// `connection-timeout`.
    #[error("outbound request refused: the plugin call's deadline has passed")]
    DeadlinePassed,
    /// Name resolution failed or found nothing. Guest: `dns-error`.
    #[error("could not resolve {host}: {detail}")]
    Dns { host: String, detail: String },
    /// Resolving, connecting and the TLS handshake took too long. Guest: `connection-timeout`.
    #[error("connecting to {target} timed out after {ms} ms")]
    ConnectTimeout { target: String, ms: u64 },
    /// No vetted address accepted the connection. Guest: `connection-refused`.
    #[error("connecting to {target} failed: {detail}")]
    Connect { target: String, detail: String },
    /// The TLS handshake failed. Guest: `tls-certificate-error` or `tls-protocol-error`.
    #[error("TLS with {target} failed: {detail}")]
    Tls {
        target: String,
        detail: String,
        certificate: bool,
    },
    /// No response head arrived in time. Guest: `connection-read-timeout`.
    #[error("no response from {target} within {ms} ms")]
    FirstByteTimeout { target: String, ms: u64 },
    /// The response body stalled. Guest: `connection-read-timeout`.
    #[error("response body from {target} stalled for {ms} ms")]
    BetweenBytesTimeout { target: String, ms: u64 },
    /// The plugin call's deadline passed during the exchange. Guest: `http-response-timeout`.
    #[error("outbound request to {target} cut off at the plugin call's deadline")]
    CallDeadline { target: String },
    /// The plugin dropped the pending response, or its call ended, before the head arrived. The
    /// guest is no longer waiting; `http-response-timeout` if anything asks.
    #[error("outbound request to {target} abandoned: the plugin or its call ended first")]
    Abandoned { target: String },
    /// The server broke HTTP. Guest: `http-protocol-error`.
    #[error("HTTP exchange with {target} failed: {detail}")]
    Protocol { target: String, detail: String },
}

impl OutboundError {
    /// Whether the host refused the request before any connection (a policy decision), as
    /// opposed to a failure of an allowed request.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            OutboundError::NotGranted { .. }
                | OutboundError::AddressProhibited { .. }
                | OutboundError::TooManyRequests { .. }
                | OutboundError::MethodNotAllowed(_)
                | OutboundError::InvalidRequest(_)
                | OutboundError::DeadlinePassed
        )
    }

    /// The `wasi:http` error the guest receives (wasmtime maps it 1:1 to the guest's
    /// `error-code`).
    pub fn to_wasi(&self) -> WasiHttpError {
        match self {
            OutboundError::NotGranted { .. } => WasiHttpError::HttpRequestDenied,
            OutboundError::AddressProhibited { .. } => WasiHttpError::DestinationIpProhibited,
            OutboundError::TooManyRequests { .. } => WasiHttpError::ConnectionLimitReached,
            OutboundError::RequestBodyTooLarge { limit } => {
                WasiHttpError::HttpRequestBodySize(Some(*limit))
            }
            OutboundError::ResponseBodyTooLarge { limit } => {
                WasiHttpError::HttpResponseBodySize(Some(*limit))
            }
            OutboundError::MethodNotAllowed(_) => WasiHttpError::HttpRequestMethodInvalid,
            OutboundError::InvalidRequest(_) => WasiHttpError::HttpRequestUriInvalid,
            OutboundError::DeadlinePassed | OutboundError::ConnectTimeout { .. } => {
                WasiHttpError::ConnectionTimeout
            }
            OutboundError::Dns { detail, .. } => WasiHttpError::DnsError {
                rcode: Some(detail.clone()),
                info_code: None,
            },
            OutboundError::Connect { .. } => WasiHttpError::ConnectionRefused,
            OutboundError::Tls { certificate, .. } => {
                if *certificate {
                    WasiHttpError::TlsCertificateError
                } else {
                    WasiHttpError::TlsProtocolError
                }
            }
            OutboundError::FirstByteTimeout { .. } | OutboundError::BetweenBytesTimeout { .. } => {
                WasiHttpError::ConnectionReadTimeout
            }
            OutboundError::CallDeadline { .. } | OutboundError::Abandoned { .. } => {
                WasiHttpError::HttpResponseTimeout
            }
            OutboundError::Protocol { .. } => WasiHttpError::HttpProtocolError,
        }
    }
}

/// For callers that report outbound failures as Plaza errors (the SDK-facing helpers, the admin
/// API): refusals by policy are `permission-denied`, bounds are `too-large`/`quota-exceeded`,
/// network trouble is `unavailable`.
impl From<OutboundError> for PlazaError {
    fn from(e: OutboundError) -> Self {
        let message = e.to_string();
        match e {
            OutboundError::NotGranted { .. } | OutboundError::AddressProhibited { .. } => {
                PlazaError::PermissionDenied(message)
            }
            OutboundError::TooManyRequests { .. } => PlazaError::QuotaExceeded {
                message,
                resets_at: None,
            },
            OutboundError::RequestBodyTooLarge { .. }
            | OutboundError::ResponseBodyTooLarge { .. } => PlazaError::TooLarge(message),
            OutboundError::MethodNotAllowed(_) | OutboundError::InvalidRequest(_) => {
                PlazaError::Invalid(message)
            }
            _ => PlazaError::Unavailable(message),
        }
    }
}
