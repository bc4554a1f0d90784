//! Sending to followers and publishing to topics.
//!
//! Each function needs its capability in the manifest, granted by an operator: `messaging.send`,
//! `messaging.template`, `messaging.broadcast`, `topics.publish:<topic>`. Quotas and the 48 h
//! customer-service window are enforced by the host and reported as [`Error`] values.

use crate::__private::plaza::platform::messaging as wit;
use crate::{Content, Error, Timestamp};

pub use wit::{Audience, TemplateField, TemplateTarget};

/// Sends a customer-service message to one follower; returns the message id.
/// Fails with [`Error::OutsideWindow`] when the follower has not interacted in the last 48 h.
pub fn send(to: &str, content: &Content) -> Result<String, Error> {
    wit::send(to, content)
}

/// Shorthand for [`send`] with a text message.
pub fn send_text(to: &str, text: impl Into<String>) -> Result<String, Error> {
    send(to, &Content::text(text))
}

/// Sends a template message (not bound by the 48 h window) that opens `url` when tapped;
/// returns the message id. Needs a verified service account and `messaging.template`.
pub fn send_template(
    to: &str,
    template_id: &str,
    fields: &[TemplateField],
    url: Option<&str>,
) -> Result<String, Error> {
    let target = url.map(|u| TemplateTarget::Url(u.to_string()));
    wit::send_template(to, template_id, fields, target.as_ref())
}

/// [`send_template`] with any target, e.g. a mini-program page
/// (`TemplateTarget::MiniProgram(MiniProgramPage { appid, page_path })`).
pub fn send_template_to(
    to: &str,
    template_id: &str,
    fields: &[TemplateField],
    target: Option<&TemplateTarget>,
) -> Result<String, Error> {
    wit::send_template(to, template_id, fields, target)
}

/// Broadcasts `content` to an audience, now or at `at`; returns the broadcast id.
/// A retried call with the same `idempotency_key` is a no-op returning the same id.
pub fn broadcast(
    audience: &Audience,
    content: &Content,
    at: Option<Timestamp>,
    idempotency_key: &str,
) -> Result<String, Error> {
    wit::broadcast(audience, content, at, idempotency_key)
}

/// Publishes `payload` to a topic this plugin's manifest declares; returns the message id.
pub fn publish(topic: &str, payload: impl AsRef<[u8]>) -> Result<String, Error> {
    wit::publish(topic, payload.as_ref())
}
