//! Outbound HTTP from a plugin, through the standard `wasi:http/outgoing-handler`.
//!
//! The host checks every request against the installation's `http.outbound:<host[:port]>`
//! grants before it connects (and refuses names that resolve to private or loopback addresses
//! unless that address itself was granted), caps body sizes, time and requests per call, and logs
//! each request (never bodies) in the account's event log. A refused request is
//! [`Error::PermissionDenied`]; a network failure is [`Error::Unavailable`].
//!
//! These helpers are blocking and small, built on the `wasip2` crate's bindings; any other
//! `wasi:http` client library works too. Redirects (301, 302, 303, 307, 308) are followed up to
//! [`MAX_REDIRECTS`] times, each hop checked by the host again.
//!
//! ```ignore
//! let rates: serde_json::Value = plaza_sdk::http::get("https://api.example.com/rates")?.json()?;
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// A response, body read completely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The whole body (the host caps its size).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        core::str::from_utf8(&self.body)
            .map_err(|e| Error::invalid(format!("response body is not UTF-8: {e}")))
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::invalid(format!("response body is not the expected JSON: {e}")))
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    request("GET", url, &[], &[])
}

/// `POST url` with `body` as JSON.
pub fn post_json<T: Serialize + ?Sized>(url: &str, body: &T) -> Result<Response, Error> {
    let body = serde_json::to_vec(body)
        .map_err(|e| Error::invalid(format!("cannot encode the request body as JSON: {e}")))?;
    request("POST", url, &[("content-type", "application/json")], &body)
}

/// Any request. `url` is absolute (`http://` or `https://`).
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, Error> {
    let mut method = method.to_string();
    let mut url = url.to_string();
    let mut body = body.to_vec();
    for _ in 0..=MAX_REDIRECTS {
        let target = Url::parse(&url)?;
        let response = imp::send(&method, &target, headers, &body)?;
        let location = match response.status {
            301 | 302 | 303 | 307 | 308 => response.header("location").map(str::to_string),
            _ => None,
        };
        let Some(location) = location else {
            return Ok(response);
        };
        url = target.resolve(&location);
        if response.status == 303 || (matches!(response.status, 301 | 302) && method == "POST") {
            method = "GET".into();
            body.clear();
        }
    }
    Err(Error::unavailable(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

/// An absolute http(s) URL split the way `wasi:http` wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    https: bool,
    /// `host[:port]`.
    authority: String,
    /// `/path?query`, never empty.
    path_and_query: String,
}

impl Url {
    fn parse(url: &str) -> Result<Self, Error> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(Error::invalid(format!(
                "{url:?} is not an absolute http:// or https:// URL"
            )));
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(Error::invalid(format!(
                "{url:?} has no host (or carries credentials, which are not supported)"
            )));
        }
        let path_and_query = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Url {
            https,
            authority: authority.to_string(),
            path_and_query,
        })
    }

    /// A redirect's `Location` made absolute.
    fn resolve(&self, location: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if let Some(rest) = location.strip_prefix("//") {
            format!("{scheme}://{rest}")
        } else if location.starts_with('/') {
            format!("{scheme}://{}{location}", self.authority)
        } else {
            let path = self.path_and_query.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}://{}{dir}{location}", self.authority)
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    use super::{Response, Url};
    use crate::Error;

    fn failed(e: impl core::fmt::Debug) -> Error {
        Error::unavailable(format!("outbound HTTP failed: {e:?}"))
    }

    fn error_code(e: ErrorCode) -> Error {
        match e {
            ErrorCode::HttpRequestDenied => Error::permission_denied(
                "the host refused this request: its host or port is not granted \
                 (http.outbound:<host>), or it resolves to a private or loopback address",
            ),
            ErrorCode::DestinationIpProhibited => Error::permission_denied(
                "the host refused this request: its host name resolves to a private or loopback \
                 address, which only a grant naming that address allows",
            ),
            ErrorCode::ConnectionLimitReached => Error::quota_exceeded(
                "this call made as many outbound requests as one call may",
                None,
            ),
            ErrorCode::InternalError(Some(m)) => Error::unavailable(m),
            other => Error::unavailable(format!("outbound HTTP failed: {other:?}")),
        }
    }

    pub(super) fn send(
        method: &str,
        url: &Url,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, Error> {
        let fields: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        let fields = Fields::from_list(&fields)
            .map_err(|e| Error::invalid(format!("bad request header: {e:?}")))?;
        let request = OutgoingRequest::new(fields);
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        };
        let scheme = if url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let set = |ok: Result<(), ()>, what: &str| {
            ok.map_err(|()| Error::invalid(format!("bad request {what}")))
        };
        set(request.set_method(&method), "method")?;
        set(request.set_scheme(Some(&scheme)), "scheme")?;
        set(request.set_authority(Some(&url.authority)), "host")?;
        set(
            request.set_path_with_query(Some(&url.path_and_query)),
            "path",
        )?;
        let outgoing = request.body().map_err(failed)?;
        let future = outgoing_handler::handle(request, None).map_err(error_code)?;
        let written = (|| {
            {
                let stream = outgoing.write().map_err(failed)?;
                for chunk in body.chunks(4096) {
                    stream.blocking_write_and_flush(chunk).map_err(failed)?;
                }
            }
            OutgoingBody::finish(outgoing, None).map_err(error_code)
        })();
        let response = loop {
            match future.get() {
                Some(result) => break result,
                None => future.subscribe().block(),
            }
        };
        // A request the host refused (host not granted, prohibited address) closes the body
        // stream, so writing a body fails; the response says why, which is the better error.
        let response = match (written, response) {
            (_, Ok(Err(e))) => return Err(error_code(e)),
            (Err(write_error), _) => return Err(write_error),
            (Ok(()), response) => response,
        };
        let response = response
            .map_err(|()| failed("response already taken"))?
            .map_err(error_code)?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let incoming = response.consume().map_err(failed)?;
        let mut body = Vec::new();
        {
            let stream = incoming.stream().map_err(failed)?;
            loop {
                match stream.blocking_read(64 << 10) {
                    Ok(chunk) => body.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(Error::unavailable(format!(
                            "reading the response failed: {}",
                            e.to_debug_string()
                        )));
                    }
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Response, Url};
    use crate::Error;

    /// Outside a Plaza host there is nothing to send with.
    pub(super) fn send(_: &str, _: &Url, _: &[(&str, &str)], _: &[u8]) -> Result<Response, Error> {
        Err(Error::unavailable(
            "outbound HTTP is only available inside the Plaza host",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_for_wasi_http() {
        let u = Url::parse("https://api.example.com:8443/v1/rates?x=1#frag").unwrap();
        assert!(u.https);
        assert_eq!(u.authority, "api.example.com:8443");
        assert_eq!(u.path_and_query, "/v1/rates?x=1");
        assert_eq!(Url::parse("http://a.b").unwrap().path_and_query, "/");
        assert_eq!(Url::parse("http://a.b?q").unwrap().path_and_query, "/?q");
        assert!(Url::parse("ftp://a.b/").is_err());
        assert!(Url::parse("http:///x").is_err());
        assert!(Url::parse("http://user:pw@a.b/").is_err());
    }

    #[test]
    fn redirects_resolve_against_the_request() {
        let u = Url::parse("http://a.b/x/y?q").unwrap();
        assert_eq!(u.resolve("https://c.d/e"), "https://c.d/e");
        assert_eq!(u.resolve("//c.d/e"), "http://c.d/e");
        assert_eq!(u.resolve("/e"), "http://a.b/e");
        assert_eq!(u.resolve("e"), "http://a.b/x/e");
    }
}
