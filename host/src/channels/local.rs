//! The local channel's JSON contract for inbound traffic (`POST /api/v1/accounts/{account}/inbound`).
//!
//! Field names follow the WeChat callback XML (lower-cased): `msg_type`, `content`, `event`,
//! `event_key`, `create_time` (seconds), so that a bridge can map one onto the other field by field.

use serde::Deserialize;

use super::{Inbound, InboundKind};
use crate::accounts::followers::validate_openid;
use crate::error::{PlazaError, Result};
use crate::plugin_api as api;

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

// Longest value of each bounded text field, in bytes. These are stored (a subscribe scene lands
// in the follower record) and passed to every plugin, so each gets a bound of its own rather than
// only the 1 MB body limit: keys and scene values are short in WeChat too, URLs get the common
// 2 KiB, titles and labels a line, descriptions a paragraph.
pub const MAX_EVENT_KEY: usize = 256;
pub const MAX_MEDIA_ID: usize = 256;
pub const MAX_URL: usize = 2048;
pub const MAX_TITLE: usize = 256;
pub const MAX_LABEL: usize = 256;
pub const MAX_DESCRIPTION: usize = 1024;

impl InboundJson {
    /// Each bounded field: its name, its value, its bound.
    fn bounded_fields(&self) -> [(&'static str, Option<&str>, usize); 6] {
        // A view event's key is the button's URL, which a menu allows up to 1 KiB.
        let key_bound = match self.event.as_deref() {
            Some("view") => MAX_URL,
            _ => MAX_EVENT_KEY,
        };
        [
            ("event_key", self.event_key.as_deref(), key_bound),
            ("media_id", self.media_id.as_deref(), MAX_MEDIA_ID),
            ("url", self.url.as_deref(), MAX_URL),
            ("title", self.title.as_deref(), MAX_TITLE),
            ("label", self.label.as_deref(), MAX_LABEL),
            ("description", self.description.as_deref(), MAX_DESCRIPTION),
        ]
    }

    /// `too_large`, naming the field, when one of the bounded fields is longer than its bound.
    fn check_field_sizes(&self) -> Result<()> {
        for (field, value, limit) in self.bounded_fields() {
            if let Some(v) = value.filter(|v| v.len() > limit) {
                return Err(PlazaError::TooLarge(format!(
                    "`{field}` is {} bytes; the limit is {limit}",
                    v.len()
                )));
            }
        }
        Ok(())
    }

    pub fn into_inbound(self, now_ms: u64) -> Result<Inbound> {
        validate_openid(&self.from)?;
        self.check_field_sizes()?;
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
                "subscribe" => api::FollowerEventKind::Subscribe(
                    self.event_key.clone().filter(|k| !k.is_empty()),
                ),
                "unsubscribe" => api::FollowerEventKind::Unsubscribe,
                // Every keyed menu button reports its key; the log and plugins see a click.
                "click" | "scancode_push" | "scancode_waitmsg" | "pic_sysphoto"
                | "pic_photo_or_album" | "pic_weixin" | "location_select" => {
                    api::FollowerEventKind::MenuClick(key()?)
                }
                // A mini-program button reports its page path, as a view reports its URL.
                "view" | "view_miniprogram" => api::FollowerEventKind::MenuView(key()?),
                "scan" => api::FollowerEventKind::Scan(key()?),
                "location" => api::FollowerEventKind::Location(self.location(t)?),
                other => {
                    return Err(PlazaError::invalid(format!(
                        "unknown event {other:?}; known: subscribe, unsubscribe, click, view, scan, location, \
                         and the menu events scancode_push, scancode_waitmsg, pic_sysphoto, \
                         pic_photo_or_album, pic_weixin, location_select, view_miniprogram"
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
        let media = |s: &Self| -> Result<api::MediaRef> {
            Ok(api::MediaRef {
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
                api::InboundBody::Text(text)
            }
            "image" => api::InboundBody::Image(media(&self)?),
            "voice" => api::InboundBody::Voice(media(&self)?),
            "video" => api::InboundBody::Video(media(&self)?),
            "location" => api::InboundBody::Location(self.location(t)?),
            "link" => api::InboundBody::Link(api::SharedLink {
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

    fn location(&self, t: &str) -> Result<api::Location> {
        let latitude = need(self.latitude, "latitude", t)?;
        let longitude = need(self.longitude, "longitude", t)?;
        if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
            return Err(PlazaError::invalid(
                "latitude must be within ±90 and longitude within ±180",
            ));
        }
        Ok(api::Location {
            latitude,
            longitude,
            scale: self.scale.unwrap_or(0),
            label: self.label.clone().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<Inbound> {
        serde_json::from_value::<InboundJson>(v)
            .unwrap()
            .into_inbound(1)
    }

    #[test]
    fn each_bounded_field_is_refused_past_its_bound_naming_it() {
        let base = serde_json::json!({
            "msg_id": "1", "from": "o-1", "msg_type": "link",
            "title": "t", "url": "https://example.com", "description": "d",
            "media_id": "m", "label": "l", "event_key": "k",
        });
        assert!(parse(base.clone()).is_ok());
        let sample: InboundJson = serde_json::from_value(base.clone()).unwrap();
        for (field, _, limit) in sample.bounded_fields() {
            let mut at_limit = base.clone();
            at_limit[field] = serde_json::json!("x".repeat(limit));
            assert!(parse(at_limit).is_ok(), "{field} at its limit");
            let mut over = base.clone();
            over[field] = serde_json::json!("x".repeat(limit + 1));
            let err = parse(over).unwrap_err();
            assert_eq!(err.code(), "too_large", "{field}: {err}");
            assert!(err.message().contains(&format!("`{field}`")), "{err}");
        }
    }

    #[test]
    fn menu_events_map_to_clicks_and_views() {
        let ev = |event: &str, key: &str| match parse(serde_json::json!({
            "msg_type": "event", "event": event, "from": "o-1", "event_key": key,
        }))
        .unwrap()
        .kind
        {
            InboundKind::Event(k) => k,
            other => panic!("{other:?}"),
        };
        for e in [
            "click",
            "scancode_push",
            "scancode_waitmsg",
            "pic_sysphoto",
            "pic_photo_or_album",
            "pic_weixin",
            "location_select",
        ] {
            assert_eq!(
                ev(e, "K"),
                api::FollowerEventKind::MenuClick("K".into()),
                "{e}"
            );
        }
        assert_eq!(
            ev("view_miniprogram", "pages/i"),
            api::FollowerEventKind::MenuView("pages/i".into())
        );
        // A view's key is a URL: a menu allows 1 KiB of it.
        let url = format!("https://example.com/{}", "x".repeat(1000));
        assert_eq!(ev("view", &url), api::FollowerEventKind::MenuView(url));
        let err = parse(serde_json::json!({
            "msg_type": "event", "event": "click", "from": "o-1", "event_key": "k".repeat(257),
        }))
        .unwrap_err();
        assert_eq!(err.code(), "too_large");
    }

    #[test]
    fn a_huge_subscribe_scene_is_refused() {
        let err = parse(serde_json::json!({
            "msg_type": "event", "event": "subscribe", "from": "o-1",
            "event_key": "qrscene_".repeat(1 << 17),
        }))
        .unwrap_err();
        assert_eq!(err.code(), "too_large", "{err}");
    }
}
