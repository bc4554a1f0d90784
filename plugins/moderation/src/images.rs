//! Outbound images sent to an operator's external review service.
//!
//! The plugin reads the image's bytes from the host's media store and `POST`s them, unchanged,
//! to `image_review_url` with the headers `content-type` (the image's type),
//! `x-plaza-account` and `x-plaza-media-id`. The service answers `200` with JSON
//! `{"verdict": "approve" | "reject", "reason": "…"}` (`reason` optional). Anything else — the
//! host refusing the request because the host is not granted, a network failure, another status,
//! another body — is a *failure*, decided by `image_review_failure` (default `closed`: block).

use serde::Deserialize;

use crate::config::FailurePolicy;

/// The service's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceAnswer {
    pub verdict: ServiceVerdict,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceVerdict {
    Approve,
    Reject,
}

/// What to do with the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageDecision {
    Allow,
    Block(String),
}

/// Reads the service's response (`status`, `body`) into a decision; `Err` with a description
/// for a response that is not an answer.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<ServiceAnswer, String> {
    if !(200..300).contains(&status) {
        return Err(format!("the review service answered HTTP {status}"));
    }
    serde_json::from_slice(body).map_err(|e| {
        format!("the review service's answer is not {{\"verdict\":\"approve\"|\"reject\"}}: {e}")
    })
}

/// The decision for an answer, or for a failure under `policy`.
pub fn decide(answer: Result<ServiceAnswer, String>, policy: FailurePolicy) -> ImageDecision {
    match answer {
        Ok(ServiceAnswer {
            verdict: ServiceVerdict::Approve,
            ..
        }) => ImageDecision::Allow,
        Ok(ServiceAnswer {
            verdict: ServiceVerdict::Reject,
            reason,
        }) => ImageDecision::Block(format!(
            "image rejected by the review service: {}",
            reason.as_deref().unwrap_or("no reason given")
        )),
        Err(failure) => match policy {
            FailurePolicy::Open => ImageDecision::Allow,
            FailurePolicy::Closed => ImageDecision::Block(format!(
                "image review failed, so the image is not sent (image_review_failure is \
                 \"closed\"): {failure}"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_failures_become_decisions() {
        let ok = parse_answer(200, br#"{"verdict":"approve"}"#);
        assert_eq!(decide(ok, FailurePolicy::Closed), ImageDecision::Allow);
        let no = parse_answer(200, br#"{"verdict":"reject","reason":"nudity"}"#);
        assert_eq!(
            decide(no, FailurePolicy::Open),
            ImageDecision::Block("image rejected by the review service: nudity".into())
        );
        let down = parse_answer(503, b"");
        assert!(
            matches!(decide(down.clone(), FailurePolicy::Closed), ImageDecision::Block(r) if r.contains("HTTP 503"))
        );
        assert_eq!(decide(down, FailurePolicy::Open), ImageDecision::Allow);
        let junk = parse_answer(200, b"yes");
        assert!(
            matches!(decide(junk, FailurePolicy::Closed), ImageDecision::Block(r) if r.contains("not {"))
        );
        assert!(parse_answer(200, br#"{"verdict":"maybe"}"#).is_err());
    }
}
