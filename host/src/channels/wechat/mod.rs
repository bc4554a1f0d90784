//! The WeChat bridge channel: Plaza as the developer server (服务器配置) of a real official
//! account. WeChat pushes every message and event to `POST /wechat/{account}`; the push is
//! checked (signature, and in encrypted modes `msg_signature` and the appid inside the
//! ciphertext), decrypted, read, run through the same inbound pipeline as the local channel, and
//! answered with a passive reply — encrypted when the push was.
//!
//! WeChat waits 5 s for the answer. If the plugins have not answered within the bridge's
//! deadline (4.5 s by default), the push is answered `success` at once and the reply, when it
//! comes, goes out as a customer-service message instead.

pub mod client;
pub mod errors;
pub mod media;
pub mod menu;
pub mod outbound;
pub mod settings;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use crate::error::{PlazaError, Result};
use crate::messaging::content::MessageContent;
use crate::platform::Platform;
use crate::wechat::envelope::{EnvelopeError, PushQuery, open_push, seal_reply};
use crate::wechat::message::{
    MAX_NEWS_ARTICLES, MAX_NEWS_REPLY_TO_MESSAGE, Push, read_push, write_reply,
};

use super::{InboundKind, InboundOutcome};

/// How long plugins get to answer a push before the bridge answers `success` and sends the
/// reply as a customer-service message: under WeChat's 5 s, leaving time for the answer to
/// travel.
pub const DEFAULT_REPLY_DEADLINE: Duration = Duration::from_millis(4500);
/// Largest push body accepted (WeChat's are a few KiB; compatible mode about triples one).
pub const MAX_PUSH_BODY: usize = 256 << 10;

/// What to answer WeChat.
#[derive(Debug, Clone, PartialEq)]
pub enum PushAnswer {
    /// `success`: no passive reply (none, too late, or not expressible as one).
    Success,
    /// A passive reply document (`text/xml`).
    Xml(String),
}

impl PushAnswer {
    pub fn body(&self) -> &str {
        match self {
            PushAnswer::Success => "success",
            PushAnswer::Xml(x) => x,
        }
    }
}

/// Why the bridge refused a request, and the security event it leaves.
fn refused(
    platform: &Platform,
    account: &str,
    what: &str,
    reason: &EnvelopeError,
    peer: Option<&str>,
) -> PlazaError {
    let mut properties = vec![("reason".to_string(), reason.to_string())];
    if let Some(p) = peer {
        properties.push(("peer".to_string(), p.to_string()));
    }
    let kind = match reason {
        EnvelopeError::BadSignature | EnvelopeError::BadMsgSignature => {
            "wechat.security.bad_signature"
        }
        EnvelopeError::Crypto(_) | EnvelopeError::NoKey | EnvelopeError::NotUtf8 => {
            "wechat.security.bad_ciphertext"
        }
        EnvelopeError::NotEncrypted => "wechat.security.not_encrypted",
        EnvelopeError::Xml(_) => "wechat.security.bad_xml",
    };
    let now = platform.clock.now_ms();
    if platform.wechat.take_security_event(account, now)
        && let Err(e) = platform
            .events
            .emit(account, "wechat", now, kind, None, properties)
    {
        tracing::warn!(account, error = %e, "could not log a refused WeChat push");
    }
    tracing::warn!(account, %reason, "refused a WeChat {what}");
    match reason {
        EnvelopeError::BadSignature | EnvelopeError::BadMsgSignature => {
            PlazaError::Unauthorized(format!("{what}: {reason}"))
        }
        _ => PlazaError::invalid(format!("{what}: {reason}")),
    }
}

impl Platform {
    /// The GET handshake WeChat makes when the URL is saved: `echostr` back, verbatim, when the
    /// signature is right.
    pub fn wechat_handshake(
        &self,
        account: &str,
        query: &PushQuery,
        peer: Option<&str>,
    ) -> Result<String> {
        let settings = self.wechat.require(account)?;
        query
            .verify_signature(&settings.token)
            .map_err(|e| refused(self, account, "handshake", &e, peer))?;
        query
            .echostr
            .clone()
            .ok_or_else(|| PlazaError::invalid("the handshake carries no echostr"))
    }

    /// Handles one push from WeChat and says what to answer.
    pub async fn wechat_push(
        self: &Arc<Self>,
        account: &str,
        query: &PushQuery,
        body: &str,
        peer: Option<&str>,
    ) -> Result<PushAnswer> {
        let settings = self.wechat.require(account)?;
        let key = settings.key()?;
        let opened = open_push(query, body, &settings.token, key.as_ref(), settings.mode)
            .map_err(|e| refused(self, account, "push", &e, peer))?;
        let inbound = match read_push(&opened.doc, self.clock.now_ms())? {
            Push::Inbound(i) => i,
            Push::Report { event } => {
                tracing::debug!(account, event, "acknowledged a WeChat report");
                return Ok(PushAnswer::Success);
            }
        };
        self.metrics.count_inbound("wechat");
        let from = inbound.from.clone();
        let max_articles = match inbound.kind {
            InboundKind::Message { .. } => MAX_NEWS_REPLY_TO_MESSAGE,
            InboundKind::Event(_) => MAX_NEWS_ARTICLES,
        };
        let original_id = opened
            .doc
            .non_empty("ToUserName")
            .unwrap_or_default()
            .to_string();
        let platform = self.clone();
        let owner = account.to_string();
        let mut handling =
            tokio::spawn(async move { platform.handle_inbound(&owner, inbound).await });
        let outcome = match tokio::time::timeout(self.wechat_reply_deadline(), &mut handling).await
        {
            Ok(joined) => joined
                .map_err(|e| PlazaError::internal(format!("inbound handling failed: {e}")))??,
            Err(_) => {
                // Too late for a passive reply: answer now, send the reply when it comes.
                let platform = self.clone();
                let owner = account.to_string();
                tokio::spawn(async move {
                    match handling.await {
                        Ok(Ok(InboundOutcome {
                            reply: Some(content),
                            ..
                        })) => platform.wechat_late_reply(&owner, &from, content).await,
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            tracing::warn!(account = %owner, error = %e, "a late WeChat push failed")
                        }
                        Err(e) => {
                            tracing::error!(account = %owner, error = %e, "a late WeChat push panicked")
                        }
                    }
                });
                return Ok(PushAnswer::Success);
            }
        };
        let Some(content) = outcome.reply else {
            return Ok(PushAnswer::Success);
        };
        let now_s = self.clock.now_ms() / 1000;
        // Stored media must first be uploaded to WeChat: that happens on the customer-service
        // path (with its retries), not while WeChat waits for the answer.
        let passive = (!media::names_stored_media(self, account, &content))
            .then(|| write_reply(&content, &from, &original_id, now_s, max_articles))
            .flatten();
        let Some(xml) = passive else {
            // Not expressible as a passive reply (a mini-program card, stored media).
            self.wechat_late_reply(account, &from, content).await;
            return Ok(PushAnswer::Success);
        };
        if !opened.encrypted {
            return Ok(PushAnswer::Xml(xml));
        }
        let key = key.ok_or_else(|| PlazaError::internal("an encrypted push without a key"))?;
        let timestamp = query.timestamp.clone().unwrap_or_else(|| now_s.to_string());
        let nonce = query.nonce.clone().unwrap_or_default();
        Ok(PushAnswer::Xml(seal_reply(
            &xml,
            &settings.token,
            &key,
            &timestamp,
            &nonce,
        )))
    }

    /// How long plugins get before a push is answered `success` ([`DEFAULT_REPLY_DEADLINE`]
    /// unless `plaza serve --wechat-reply-deadline-ms` says otherwise).
    pub fn wechat_reply_deadline(&self) -> Duration {
        Duration::from_millis(
            self.wechat_reply_deadline_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Sends a reply that could not be a passive one as a customer-service message, through
    /// the durable outbound queue (see [`outbound`]).
    async fn wechat_late_reply(&self, account: &str, openid: &str, content: MessageContent) {
        let msg_type = content.type_name();
        match self.wechat_send_late_reply(account, openid, content).await {
            Ok(()) => tracing::info!(
                account,
                openid,
                msg_type,
                "a WeChat reply could not be passive; queued as a customer-service message"
            ),
            Err(e) => tracing::error!(
                account,
                openid,
                msg_type,
                error = %e,
                "could not queue a late WeChat reply"
            ),
        }
    }
}
