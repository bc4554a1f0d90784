//! The local channel's JSON contract for inbound traffic (`POST /api/v1/accounts/{account}/inbound`).
//!
//! Field names follow the WeChat callback XML (lower-cased): `msg_type`, `content`, `event`,
//! `event_key`, `create_time` (seconds), so that a bridge can map one onto the other field by field.

use serde::Deserialize;

use super::{Inbound, InboundKind};
use crate::accounts::followers::validate_openid;
use crate::error::{PlazaError, Result};
use crate::runtime::wit;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundJson {
    pub msg_id: Option<String>,
    pub from: String,
    pub msg_type: String,
    pub content: Option<String>,
    pub media_id: Option<String>,
    #[serde(alias = "pic_url")]
    pub url: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub scale: Option<u32>,
    pub label: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub event: Option<String>,
    pub event_key: Option<String>,
    /// Seconds since the epoch, as WeChat sends it; defaults to now.
    pub create_time: Option<u64>,
}

fn need<T>(v: Option<T>, field: &str, msg_type: &str) -> Result<T> {
    v.ok_or_else(|| PlazaError::invalid(format!("msg_type {msg_type:?} needs field {field:?}")))
}

/// Text a follower can send in one message (the platform's own limit).
const MAX_TEXT: usize = 2048 * 4;

impl InboundJson {
    pub fn into_inbound(self, now_ms: u64) -> Result<Inbound> {
        validate_openid(&self.from)?;
        let at = self
            .create_time
            .map(|s| s.saturating_mul(1000))
            .unwrap_or(now_ms);
        let t = self.msg_type.as_str();
        if t == "event" {
            let event = need(self.event.as_deref(), "event", t)?;
            let key = || {
                need(
                    self.event_key.clone(),
                    "event_key",
                    &format!("event/{event}"),
                )
            };
            let kind = match event {
                "subscribe" => wit::FollowerEventKind::Subscribe(
                    self.event_key.clone().filter(|k| !k.is_empty()),
                ),
                "unsubscribe" => wit::FollowerEventKind::Unsubscribe,
                "click" => wit::FollowerEventKind::MenuClick(key()?),
                "view" => wit::FollowerEventKind::MenuView(key()?),
                "scan" => wit::FollowerEventKind::Scan(key()?),
                "location" => wit::FollowerEventKind::Location(self.location(t)?),
                other => {
                    return Err(PlazaError::invalid(format!(
                        "unknown event {other:?}; known: subscribe, unsubscribe, click, view, scan, location"
                    )));
                }
            };
            // WeChat de-duplicates events by sender + create time; we do the same when it is given.
            let dedup_key = self
                .create_time
                .map(|s| format!("event:{}:{s}:{event}", self.from));
            return Ok(Inbound {
                dedup_key,
                from: self.from,
                at,
                kind: InboundKind::Event(kind),
            });
        }
        let msg_id = need(self.msg_id.clone(), "msg_id", t)?;
        if msg_id.is_empty() || msg_id.len() > 128 {
            return Err(PlazaError::invalid("msg_id must be 1-128 bytes"));
        }
        let media = |s: &Self| -> Result<wit::Media> {
            Ok(wit::Media {
                media_id: need(s.media_id.clone(), "media_id", t)?,
                url: s.url.clone(),
            })
        };
        let body = match t {
            "text" => {
                let text = need(self.content.clone(), "content", t)?;
                if text.len() > MAX_TEXT {
                    return Err(PlazaError::TooLarge(format!(
                        "text is {} bytes; the limit is {MAX_TEXT}",
                        text.len()
                    )));
                }
                wit::InboundBody::Text(text)
            }
            "image" => wit::InboundBody::Image(media(&self)?),
            "voice" => wit::InboundBody::Voice(media(&self)?),
            "video" => wit::InboundBody::Video(media(&self)?),
            "location" => wit::InboundBody::Location(self.location(t)?),
            "link" => wit::InboundBody::Link(wit::Link {
                title: need(self.title.clone(), "title", t)?,
                description: self.description.clone().unwrap_or_default(),
                url: need(self.url.clone(), "url", t)?,
            }),
            other => {
                return Err(PlazaError::invalid(format!(
                    "unknown msg_type {other:?}; known: text, image, voice, video, location, link, event"
                )));
            }
        };
        Ok(Inbound {
            dedup_key: Some(format!("msg:{msg_id}")),
            from: self.from,
            at,
            kind: InboundKind::Message { msg_id, body },
        })
    }

    fn location(&self, t: &str) -> Result<wit::Location> {
        let latitude = need(self.latitude, "latitude", t)?;
        let longitude = need(self.longitude, "longitude", t)?;
        if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
            return Err(PlazaError::invalid(
                "latitude must be within ±90 and longitude within ±180",
            ));
        }
        Ok(wit::Location {
            latitude,
            longitude,
            scale: self.scale.unwrap_or(0),
            label: self.label.clone().unwrap_or_default(),
        })
    }
}
