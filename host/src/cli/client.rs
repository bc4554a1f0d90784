//! The CLI's HTTP client for the admin API: every admin subcommand is one request.

use serde_json::Value;

use crate::error::{PlazaError, Result};

/// The error a server answer stands for: every code the server sends maps to its own variant, so
/// that the exit status says what happened (see `cli::exit_code`). An answer without a code (a
/// proxy's error page, a server of another version) is judged by its status alone.
pub fn server_error(status: u16, body: &Value) -> PlazaError {
    let error = &body["error"];
    let message = error["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| match body {
            Value::Null => format!("HTTP {status} with an empty answer"),
            Value::String(text) => format!("HTTP {status}: {}", text.trim()),
            other => format!("HTTP {status}: {other}"),
        });
    match error["code"].as_str().unwrap_or_default() {
        "not_found" => PlazaError::NotFound(message),
        "permission_denied" => PlazaError::PermissionDenied(message),
        "unauthorized" => PlazaError::Unauthorized(message),
        "quota_exceeded" => PlazaError::QuotaExceeded {
            message,
            resets_at: error["resets_at"].as_u64(),
        },
        "outside_window" => PlazaError::OutsideWindow(message),
        "invalid" | "method_not_allowed" => PlazaError::Invalid(message),
        "too_large" => PlazaError::TooLarge(message),
        "conflict" => PlazaError::Conflict(message),
        "unavailable" => PlazaError::Unavailable(message),
        "internal" => PlazaError::Internal(message),
        // No code this CLI knows: the status says as much as can be said.
        _ => match status {
            401 => PlazaError::Unauthorized(message),
            403 => PlazaError::PermissionDenied(message),
            404 => PlazaError::NotFound(message),
            409 => PlazaError::Conflict(message),
            413 => PlazaError::TooLarge(message),
            429 => PlazaError::QuotaExceeded {
                message,
                resets_at: None,
            },
            502..=504 => PlazaError::Unavailable(message),
            400..=499 => PlazaError::Invalid(message),
            _ => PlazaError::Internal(message),
        },
    }
}

/// Tells the server a request comes from the CLI, so its audit log can say so (`via`).
pub const CLIENT_HEADER: &str = "X-Plaza-Client";

pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str, token: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .build()
            .new_agent();
        Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn finish(
        &self,
        resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value> {
        let mut resp = resp.map_err(|e| {
            PlazaError::Unavailable(format!(
                "cannot reach the Plaza server at {}: {e} (is `plaza serve` running? see --server)",
                self.base
            ))
        })?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| PlazaError::Unavailable(format!("reading the answer: {e}")))?;
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(body);
        }
        Err(server_error(status.as_u16(), &body))
    }

    /// POSTs to `path` and streams a successful answer's body into `out`, calling `progress`
    /// with the bytes received so far. Returns the total. No overall time limit: a large backup
    /// may take a while; a stalled connection still fails.
    pub fn download(
        &self,
        path: &str,
        out: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let resp = self
            .agent
            .post(&self.url(path))
            .config()
            .timeout_global(None)
            .timeout_recv_body(Some(std::time::Duration::from_secs(600)))
            .build()
            .header("Authorization", &self.auth())
            .header(CLIENT_HEADER, "cli")
            .send_empty();
        let mut resp = resp.map_err(|e| {
            PlazaError::Unavailable(format!(
                "cannot reach the Plaza server at {}: {e} (is `plaza serve` running? see --server)",
                self.base
            ))
        })?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            return Err(server_error(status.as_u16(), &body));
        }
        let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            let n = std::io::Read::read(&mut reader, &mut buf)
                .map_err(|e| PlazaError::Unavailable(format!("download interrupted: {e}")))?;
            if n == 0 {
                return Ok(total);
            }
            super::system::write_chunk(out, &buf[..n], std::path::Path::new("the output"))?;
            total += n as u64;
            progress(total);
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.finish(
            self.agent
                .get(&self.url(path))
                .header("Authorization", &self.auth())
                .header(CLIENT_HEADER, "cli")
                .call(),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.finish(
            self.agent
                .post(&self.url(path))
                .header("Authorization", &self.auth())
                .header(CLIENT_HEADER, "cli")
                .send_json(body),
        )
    }

    pub fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.finish(
            self.agent
                .patch(&self.url(path))
                .header("Authorization", &self.auth())
                .header(CLIENT_HEADER, "cli")
                .send_json(body),
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.finish(
            self.agent
                .put(&self.url(path))
                .header("Authorization", &self.auth())
                .header(CLIENT_HEADER, "cli")
                .send_json(body),
        )
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        self.finish(
            self.agent
                .delete(&self.url(path))
                .header("Authorization", &self.auth())
                .header(CLIENT_HEADER, "cli")
                .call(),
        )
    }

    /// POSTs a body of `len` bytes read from `body` with its content type: a media upload read
    /// as it is sent, so that the reader can report progress. The length is sent up front (no
    /// chunked encoding), so the server can refuse an oversized upload before reading it.
    pub fn post_reader(
        &self,
        path: &str,
        content_type: &str,
        len: u64,
        body: &mut dyn std::io::Read,
    ) -> Result<Value> {
        self.finish(
            self.agent
                .post(&self.url(path))
                .header("Authorization", &self.auth())
                .header(CLIENT_HEADER, "cli")
                .header("Content-Type", content_type)
                .header("Content-Length", &len.to_string())
                .send(ureq::SendBody::from_reader(body)),
        )
    }

    /// Uploads a plugin as `multipart/form-data` with `manifest` and `wasm` parts.
    pub fn upload(&self, manifest: &str, wasm: &[u8]) -> Result<Value> {
        let boundary = format!("plaza-{}", crate::accounts::random_token(8)?);
        let mut body = Vec::with_capacity(wasm.len() + manifest.len() + 512);
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"manifest\"\r\nContent-Type: text/plain\r\n\r\n{manifest}\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"plugin.wasm\"\r\nContent-Type: application/wasm\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(wasm);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.finish(
            self.agent
                .post(&self.url("/plugins"))
                .header("Authorization", &self.auth())
                .header(CLIENT_HEADER, "cli")
                .header(
                    "Content-Type",
                    &format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..]),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::server_error;
    use crate::error::PlazaError;

    fn body(code: &str) -> serde_json::Value {
        json!({ "error": { "code": code, "message": "m" } })
    }

    #[test]
    fn every_code_the_server_sends_maps_to_its_own_error() {
        // Every PlazaError the server can answer with comes back as itself.
        let all = [
            PlazaError::NotFound("m".into()),
            PlazaError::PermissionDenied("m".into()),
            PlazaError::Unauthorized("m".into()),
            PlazaError::QuotaExceeded {
                message: "m".into(),
                resets_at: Some(42),
            },
            PlazaError::OutsideWindow("m".into()),
            PlazaError::Invalid("m".into()),
            PlazaError::TooLarge("m".into()),
            PlazaError::Conflict("m".into()),
            PlazaError::Unavailable("m".into()),
            PlazaError::Internal("m".into()),
        ];
        for e in all {
            let answer = serde_json::to_value(crate::error::ErrorBody::from(&e)).unwrap();
            let status = crate::api::error::status_of(&e).as_u16();
            assert_eq!(server_error(status, &answer), e, "{answer}");
        }
        assert_eq!(
            server_error(405, &body("method_not_allowed")),
            PlazaError::Invalid("m".into())
        );
    }

    #[test]
    fn answers_without_a_known_code_are_judged_by_status() {
        let page = json!("<html>Bad Gateway</html>");
        assert!(matches!(
            server_error(502, &page),
            PlazaError::Unavailable(_)
        ));
        assert!(matches!(server_error(500, &page), PlazaError::Internal(_)));
        assert!(matches!(
            server_error(418, &body("teapot")),
            PlazaError::Invalid(_)
        ));
        let e = server_error(500, &serde_json::Value::Null);
        assert_eq!(
            e,
            PlazaError::Internal("HTTP 500 with an empty answer".into())
        );
    }
}
