//! The CLI's HTTP client for the admin API: every admin subcommand is one request.

use serde_json::Value;

use crate::error::{PlazaError, Result};

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
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or("error")
            .to_string();
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| body.to_string());
        Err(match code.as_str() {
            "not_found" => PlazaError::NotFound(message),
            "permission_denied" => PlazaError::PermissionDenied(message),
            "unauthorized" => PlazaError::Unauthorized(message),
            "invalid" => PlazaError::Invalid(message),
            "conflict" => PlazaError::Conflict(message),
            "too_large" => PlazaError::TooLarge(message),
            "quota_exceeded" => PlazaError::QuotaExceeded {
                message,
                resets_at: body["error"]["resets_at"].as_u64(),
            },
            _ => PlazaError::Unavailable(format!("{status}: {message}")),
        })
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.finish(
            self.agent
                .get(&self.url(path))
                .header("Authorization", &self.auth())
                .call(),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.finish(
            self.agent
                .post(&self.url(path))
                .header("Authorization", &self.auth())
                .send_json(body),
        )
    }

    pub fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.finish(
            self.agent
                .patch(&self.url(path))
                .header("Authorization", &self.auth())
                .send_json(body),
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.finish(
            self.agent
                .put(&self.url(path))
                .header("Authorization", &self.auth())
                .send_json(body),
        )
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        self.finish(
            self.agent
                .delete(&self.url(path))
                .header("Authorization", &self.auth())
                .call(),
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
                .header(
                    "Content-Type",
                    &format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..]),
        )
    }
}
