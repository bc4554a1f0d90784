//! What plugins add to the event log: their own events (`events.emit`) and a record of every
//! outbound HTTP request they make; and the entry seen as plugins see it (`logged-event`).

use serde::{Deserialize, Serialize};

use super::kinds::{validate_plugin_kind, validate_properties};
use super::{EventKind, EventLog, LoggedEvent, delivery_name, event_id};
use crate::accounts::followers::validate_openid;
use crate::error::{PlazaError, Result};
use crate::storage::Pending;

/// The longest host (`name[:port]`) an outbound request entry keeps; DNS names are at most 253
/// bytes, so only a bogus one is cut.
const MAX_HOST: usize = 255;
/// The longest error text an outbound request entry keeps.
const MAX_ERROR: usize = 512;
/// The longest HTTP method kept.
const MAX_METHOD: usize = 16;

/// An outbound HTTP request as the event log records it (`LoggedEvent::http`): never bodies,
/// headers, paths or query strings, which may carry secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    /// `name` or `name:port`, as requested.
    pub host: String,
    /// The response status; none when the request failed or was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why there is no response (refused by the grant, DNS, connect, time-out, too large …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// One outbound request a plugin made, for [`EventLog::log_http_outbound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutboundEntry {
    pub plugin: String,
    pub method: String,
    /// `name` or `name:port`.
    pub host: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `s` with control and bidi characters replaced, so that a stored entry cannot forge log lines.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if crate::accounts::is_forbidden_char(c) {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

impl EventLog {
    /// Records a plugin event (WIT `events.emit`) as a unit of work of its own and returns its
    /// entry id (time-ordered, unique within the account) once the caller awaits durability
    /// (`.durable().await` before returning the id to the plugin).
    ///
    /// - `plugin`: the calling installation's plugin; `kind` must be `<plugin>.<name>`
    ///   (`editor.article.read` from `editor`): `a-z 0-9 _ . -`, at most 64 bytes.
    /// - `at`: the host clock now (`platform.clock.now_ms()`), not a time the plugin chose: the
    ///   daily aggregates' cache relies on entries being appended close to their time.
    /// - `openid`: the follower the event is about, if any (a valid openid; not checked against
    ///   the follower registry, an analytics event may be about a follower not yet seen).
    /// - `properties`: at most 32 unique names of ≤ 64 bytes, ≤ 4 KiB in all.
    ///
    /// Errors: `invalid` (kind, openid, property names) or `too-large` (properties), nothing
    /// written. The number of emits per plugin call is bounded by the caller
    /// ([`super::kinds::MAX_EMITS_PER_CALL`]).
    pub fn emit(
        &self,
        account: &str,
        plugin: &str,
        at: u64,
        kind: &str,
        openid: Option<&str>,
        properties: Vec<(String, String)>,
    ) -> Result<Pending<String>> {
        validate_plugin_kind(plugin, kind)?;
        if let Some(o) = openid {
            validate_openid(o)?;
        }
        validate_properties(&properties)?;
        let ev = LoggedEvent {
            id: event_id(at, &self.ids.next("")),
            at,
            kind: EventKind::Plugin,
            openid: openid.map(str::to_string),
            plugin: Some(plugin.to_string()),
            plugin_kind: Some(kind.to_string()),
            properties,
            ..LoggedEvent::default()
        };
        let id = ev.id.clone();
        Ok(self
            .store
            .write(|tx| self.append_in(tx, account, &ev))?
            .map(|()| id))
    }

    /// Records one outbound HTTP request a plugin made (or was refused), as a unit of work of its
    /// own, without waiting for it to be durable: the request has already happened, so there is
    /// nothing to acknowledge, and a plugin call should not wait a disk flush per request; the
    /// entry is on disk with the next group commit (any later durable write, or sled's own flush
    /// within 500 ms). `at`: the host clock when the request started. The sub-kind aggregates
    /// break these down by is the host. Method, host and error are cut to a bounded length and
    /// control characters replaced; never pass bodies, paths, queries or headers.
    pub fn log_http_outbound(
        &self,
        account: &str,
        at: u64,
        entry: &HttpOutboundEntry,
    ) -> Result<()> {
        if entry.plugin.is_empty() {
            return Err(PlazaError::internal(
                "an outbound request entry names no plugin",
            ));
        }
        let ev = LoggedEvent {
            id: event_id(at, &self.ids.next("")),
            at,
            kind: EventKind::HttpOutbound,
            plugin: Some(entry.plugin.clone()),
            http: Some(HttpRequest {
                method: printable(&cut(&entry.method, MAX_METHOD)),
                host: printable(&cut(&entry.host, MAX_HOST)),
                status: entry.status,
                error: entry
                    .error
                    .as_deref()
                    .map(|e| printable(&cut(e, MAX_ERROR))),
                duration_ms: entry.duration_ms,
            }),
            ..LoggedEvent::default()
        };
        self.store
            .write(|tx| self.append_in(tx, account, &ev))?
            .detach();
        Ok(())
    }
}

impl Default for LoggedEvent {
    /// An empty inbound-message entry, for struct update syntax (`..LoggedEvent::default()`).
    fn default() -> Self {
        LoggedEvent {
            id: String::new(),
            at: 0,
            kind: EventKind::InboundMessage,
            openid: None,
            msg_type: None,
            event: None,
            event_key: None,
            delivery: None,
            plugin: None,
            message_id: None,
            plugin_kind: None,
            properties: Vec::new(),
            http: None,
        }
    }
}

/// The WIT `logged-event.kind` of an entry whose header holds `kind` and `sub`: the built-in
/// name, or for a plugin event its full kind (the sub-kind).
pub fn kind_string(kind: EventKind, sub: &str) -> &str {
    match kind {
        EventKind::Plugin => sub,
        k => k.name(),
    }
}

impl LoggedEvent {
    /// The kind as plugins see it (WIT `logged-event.kind`): `inbound_message`,
    /// `follower_event`, `delivery`, `http_outbound`, or the plugin event's full kind.
    pub fn kind_str(&self) -> &str {
        kind_string(self.kind, self.sub())
    }

    /// WIT `logged-event.sub-kind`: the inbound message type, follower event name, delivery
    /// kind, outbound host, or the plugin event's full kind again (`other` when unknown).
    pub fn sub_kind(&self) -> &str {
        self.sub()
    }

    /// WIT `logged-event.properties`: a plugin event's own properties; for the built-in kinds
    /// the rest of the entry as name/value pairs, those present of `msg_type`, `event`,
    /// `event_key`, `delivery`, `message_id`; for outbound HTTP `method`, `host`, `status`,
    /// `error`, `duration_ms`.
    pub fn flat_properties(&self) -> Vec<(String, String)> {
        if self.kind == EventKind::Plugin {
            return self.properties.clone();
        }
        let mut out: Vec<(String, String)> = Vec::new();
        let mut put = |n: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((n.to_string(), v));
            }
        };
        put("msg_type", self.msg_type.clone());
        put("event", self.event.clone());
        put("event_key", self.event_key.clone());
        put(
            "delivery",
            self.delivery.map(|d| delivery_name(d).to_string()),
        );
        put("message_id", self.message_id.clone());
        if let Some(h) = &self.http {
            put("method", Some(h.method.clone()));
            put("host", Some(h.host.clone()));
            put("status", h.status.map(|s| s.to_string()));
            put("error", h.error.clone());
            put("duration_ms", Some(h.duration_ms.to_string()));
        }
        out.extend(self.properties.iter().cloned());
        out
    }
}
