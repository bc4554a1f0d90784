//! The event log: every inbound message, follower event and outbound delivery of an account, the
//! events plugins record (`plugin`) and the outbound HTTP requests they make, in time order, for
//! analytics and dashboards. Kinds and selectors: `kinds`; plugin entries: `plugin`; daily
//! aggregates and their cache: `daily`.
//!
//! Storage: tree `events`, key `account \0 id`, where the id is `{at:013}-{seq:020}` — the host's
//! receive time in milliseconds, then a unique sequence number — so a time range is one ordered
//! scan. The value starts with a small header (kind byte, then the length-prefixed sub-kind:
//! message type, event name, delivery kind, plugin event kind or outbound host) followed by the
//! JSON record, so that daily aggregates read only the header.
//!
//! Appending is one tree insert and no flush: it rides on the group commit of the request that
//! produced it (the inbound pipeline's, or the sender's), so an acknowledged message or delivery
//! and its log entry are durable together. It touches no shared key (an entry written long after
//! its time also writes a mark of its own for the aggregate cache, see `daily`).
//!
//! Retention: entries older than the account's retention (days; set per account, else the host
//! default of [`DEFAULT_RETENTION_DAYS`] or `plaza serve --event-retention-days`) are deleted by a
//! background pass that runs at start and then every [`PRUNE_EVERY`]. Until a pass runs, older
//! entries may still be listed.

pub mod daily;
mod host;
pub mod kinds;
pub mod plugin;
pub mod query;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::channels::{Inbound, InboundKind};
use crate::error::{PlazaError, Result};
use crate::messaging::outbox::{Delivery, OutboxEntry};
use crate::platform::{Clock, Ids, Platform};
use crate::storage::backend::{child, prefix};
use crate::storage::{Bytes, Json, Store, Table, Tx};

pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The longest retention an account may set (10 years).
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// How often old entries are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
pub const DAY_MS: u64 = 86_400_000;
/// Entries deleted per batch while pruning.
const PRUNE_BATCH: usize = 10_000;

/// Settings of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOptions {
    /// Retention for accounts that set none.
    pub retention_days: u32,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A follower sent a message (text, image, …).
    InboundMessage,
    /// A follower event (subscribe, unsubscribe, menu click, …).
    FollowerEvent,
    /// A message delivered to a follower (reply, customer-service, template, broadcast).
    Delivery,
    /// An event a plugin recorded (`events.emit`); its full kind (`editor.article.read`) is the
    /// sub-kind.
    Plugin,
    /// An outbound HTTP request a plugin made; the sub-kind is the host.
    HttpOutbound,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::InboundMessage,
        EventKind::FollowerEvent,
        EventKind::Delivery,
        EventKind::Plugin,
        EventKind::HttpOutbound,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::InboundMessage => "inbound_message",
            EventKind::FollowerEvent => "follower_event",
            EventKind::Delivery => "delivery",
            EventKind::Plugin => "plugin",
            EventKind::HttpOutbound => "http_outbound",
        }
    }

    fn code(self) -> u8 {
        match self {
            EventKind::InboundMessage => 1,
            EventKind::FollowerEvent => 2,
            EventKind::Delivery => 3,
            EventKind::Plugin => 4,
            EventKind::HttpOutbound => 5,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.code() == c)
    }
}

impl std::str::FromStr for EventKind {
    type Err = PlazaError;
    fn from_str(s: &str) -> Result<Self> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                PlazaError::invalid(format!(
                    "unknown event kind {s:?}; known: {}",
                    kinds::builtin_names()
                ))
            })
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// Time-ordered and unique within the account; also the paging cursor.
    #[serde(default)]
    pub id: String,
    /// When the host handled it (ms since the epoch).
    pub at: u64,
    pub kind: EventKind,
    /// The follower it is from or to (none for outbound HTTP and plugin events about no one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    /// Inbound message type (`text`, `image`, …) or the delivered content's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_type: Option<String>,
    /// Follower event name as in the WeChat protocol: `subscribe`, `unsubscribe`, `click`,
    /// `view`, `scan`, `location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The event's key: subscribe scene, menu key or URL, scan scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_key: Option<String>,
    /// How a delivery reached the follower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// The plugin that produced a delivery, a plugin event or an outbound request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The inbound message id, or the delivered outbox entry's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// A plugin event's full kind (`editor.article.read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_kind: Option<String>,
    /// A plugin event's properties, in the order given; a JSON object (names are unique).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "kinds::properties_map"
    )]
    pub properties: Vec<(String, String)>,
    /// An outbound HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<plugin::HttpRequest>,
}

impl LoggedEvent {
    /// The sub-kind aggregates break counts down by.
    fn sub(&self) -> &str {
        match self.kind {
            EventKind::InboundMessage => self.msg_type.as_deref(),
            EventKind::FollowerEvent => self.event.as_deref(),
            EventKind::Delivery => self.delivery.map(delivery_name),
            EventKind::Plugin => self.plugin_kind.as_deref(),
            EventKind::HttpOutbound => self.http.as_ref().map(|h| h.host.as_str()),
        }
        .unwrap_or("other")
    }
}

fn delivery_name(d: Delivery) -> &'static str {
    match d {
        Delivery::Reply => "reply",
        Delivery::CustomerService => "customer_service",
        Delivery::Template => "template",
        Delivery::Broadcast => "broadcast",
    }
}

/// The largest timestamp an id can carry (13 digits, the year 2286).
pub const MAX_AT: u64 = 9_999_999_999_999;

pub fn event_id(at: u64, seq: &str) -> String {
    format!("{:013}-{seq}", at.min(MAX_AT))
}

/// `account \0 {at:013}` — the first key at or after `at`.
fn time_key(account: &str, at: u64) -> Vec<u8> {
    let mut k = prefix(&[account]);
    k.extend_from_slice(format!("{:013}", at.min(MAX_AT)).as_bytes());
    k
}

/// Encodes header + JSON (the id lives in the key only).
fn encode(ev: &LoggedEvent) -> Result<Vec<u8>> {
    let sub = ev.sub().as_bytes();
    let sub = &sub[..sub.len().min(255)];
    let mut out = Vec::with_capacity(2 + sub.len() + 160);
    out.push(ev.kind.code());
    out.push(sub.len() as u8);
    out.extend_from_slice(sub);
    let body = LoggedEvent {
        id: String::new(),
        ..ev.clone()
    };
    serde_json::to_writer(&mut out, &body)?;
    Ok(out)
}

/// The header only: kind and sub-kind.
fn header(v: &[u8]) -> Option<(EventKind, &[u8], &[u8])> {
    let kind = EventKind::from_code(*v.first()?)?;
    let n = *v.get(1)? as usize;
    let sub = v.get(2..2 + n)?;
    let rest = v.get(2 + n..)?;
    Some((kind, sub, rest))
}

fn decode(account_prefix_len: usize, k: &[u8], v: &[u8]) -> Result<LoggedEvent> {
    let (_, _, body) =
        header(v).ok_or_else(|| PlazaError::internal("event log entry has no header"))?;
    let mut ev: LoggedEvent = serde_json::from_slice(body)?;
    ev.id = String::from_utf8_lossy(k.get(account_prefix_len..).unwrap_or_default()).into_owned();
    Ok(ev)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct AccountSettings {
    retention_days: u32,
}

/// The log itself and its per-account retention settings.
pub struct EventLog {
    store: Arc<Store>,
    pub(crate) tree: Table<Bytes>,
    settings: Table<Json<AccountSettings>>,
    pub options: EventOptions,
    /// Appends compare an entry's time with it (see `daily`: late entries).
    clock: Arc<dyn Clock>,
    /// The platform's id source: ids of plugin and outbound-request entries.
    ids: Arc<Ids>,
    /// Cached counts of closed time buckets, for the daily aggregates.
    cache: daily::BucketCache,
}

/// An account's retention and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub days: u32,
    /// `account` when the account set it, else `default`.
    pub source: &'static str,
    pub default_days: u32,
}

impl EventLog {
    pub fn new(
        store: Arc<Store>,
        options: EventOptions,
        clock: Arc<dyn Clock>,
        ids: Arc<Ids>,
    ) -> Result<Self> {
        Ok(EventLog {
            tree: store.table("events")?,
            settings: store.table("event_settings")?,
            cache: daily::BucketCache::open(&store)?,
            store,
            options,
            clock,
            ids,
        })
    }

    /// Appends one entry in the caller's unit of work (so the message or delivery it records
    /// and the entry are durable together).
    pub fn append_in(&self, tx: &mut Tx<'_>, account: &str, ev: &LoggedEvent) -> Result<()> {
        tx.put_bytes(
            &self.tree,
            &child(&[account], ev.id.as_bytes()),
            &encode(ev)?,
        )?;
        self.cache
            .mark_if_late_in(tx, account, ev, self.clock.now_ms())
    }

    /// Appends one entry as a unit of work of its own (tests).
    #[cfg(test)]
    pub(crate) fn append(&self, account: &str, ev: &LoggedEvent) -> Result<()> {
        self.store
            .write(|tx| self.append_in(tx, account, ev))?
            .detach();
        Ok(())
    }

    pub fn retention(&self, account: &str) -> Result<Retention> {
        let own = self.settings.get(account.as_bytes())?;
        Ok(Retention {
            days: own
                .map(|s| s.retention_days)
                .unwrap_or(self.options.retention_days),
            source: if own.is_some() { "account" } else { "default" },
            default_days: self.options.retention_days,
        })
    }

    /// Sets (or with `None` clears) the account's own retention.
    pub async fn set_retention(&self, account: &str, days: Option<u32>) -> Result<Retention> {
        if let Some(d) = days
            && (d == 0 || d > MAX_RETENTION_DAYS)
        {
            return Err(PlazaError::invalid(format!(
                "retention must be 1-{MAX_RETENTION_DAYS} days, not {d}"
            )));
        }
        self.store
            .write(|tx| match days {
                Some(d) => tx.put(
                    &self.settings,
                    account.as_bytes(),
                    &AccountSettings { retention_days: d },
                ),
                None => tx.delete(&self.settings, account.as_bytes()).map(drop),
            })?
            .durable()
            .await?;
        self.retention(account)
    }

    /// Deletes the account's entries older than its retention, in units of work of
    /// [`PRUNE_BATCH`]. Returns how many. Nobody waits on a prune, so it is not awaited durable:
    /// entries a crash brings back are pruned again by the next pass.
    pub fn prune(&self, account: &str, now: u64) -> Result<u64> {
        let days = self.retention(account)?.days as u64;
        let cutoff = now.saturating_sub(days.saturating_mul(DAY_MS));
        let (start, end) = (prefix(&[account]), time_key(account, cutoff));
        let mut removed = 0;
        loop {
            let batch: Vec<Vec<u8>> = self
                .tree
                .range(&start, &end, PRUNE_BATCH)?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            if batch.is_empty() {
                self.cache.forget_before(&self.store, account, cutoff)?;
                return Ok(removed);
            }
            removed += self
                .store
                .write(|tx| {
                    self.cache.invalidate_in(tx, account)?;
                    let mut n = 0;
                    for k in &batch {
                        if tx.delete(&self.tree, k)? {
                            n += 1;
                        }
                    }
                    Ok(n)
                })?
                .detach();
        }
    }
}

impl Platform {
    fn log_event_in(&self, tx: &mut Tx<'_>, account: &str, mut ev: LoggedEvent) -> Result<()> {
        ev.id = event_id(ev.at, &self.ids.next(""));
        self.events.append_in(tx, account, &ev)
    }

    /// Logs an inbound message or follower event (once per handled inbound), in the unit of
    /// work that records the interaction.
    pub fn log_inbound_in(&self, tx: &mut Tx<'_>, account: &str, inbound: &Inbound) -> Result<()> {
        let ev = self.inbound_event(inbound);
        self.events.append_in(tx, account, &ev)
    }

    /// The log entry of an inbound, stamped (time and place in the log) now: an entry made
    /// before the plugins answer and written with their answer keeps its place before the
    /// deliveries the plugins made meanwhile.
    pub fn inbound_event(&self, inbound: &Inbound) -> LoggedEvent {
        let at = self.clock.now_ms();
        let ev = match &inbound.kind {
            InboundKind::Message { msg_id, body } => LoggedEvent {
                id: String::new(),
                at,
                kind: EventKind::InboundMessage,
                openid: Some(inbound.from.clone()),
                msg_type: Some(body.type_name().to_string()),
                event: None,
                event_key: None,
                delivery: None,
                plugin: None,
                message_id: Some(msg_id.clone()),
                ..LoggedEvent::default()
            },
            InboundKind::Event(kind) => {
                let (name, key) = kind.name_and_key();
                LoggedEvent {
                    id: String::new(),
                    at,
                    kind: EventKind::FollowerEvent,
                    openid: Some(inbound.from.clone()),
                    msg_type: None,
                    event: Some(name.to_string()),
                    event_key: key,
                    delivery: None,
                    plugin: None,
                    message_id: None,
                    ..LoggedEvent::default()
                }
            }
        };
        LoggedEvent {
            id: event_id(ev.at, &self.ids.next("")),
            ..ev
        }
    }

    /// Logs a message put in a follower's outbox, in the unit of work that delivers it.
    pub fn log_delivery_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        entry: &OutboxEntry,
    ) -> Result<()> {
        self.log_event_in(
            tx,
            account,
            LoggedEvent {
                id: String::new(),
                at: entry.at,
                kind: EventKind::Delivery,
                openid: Some(openid.to_string()),
                msg_type: Some(entry.content.type_name().to_string()),
                event: None,
                event_key: None,
                delivery: Some(entry.delivery),
                plugin: entry.plugin.clone(),
                message_id: Some(entry.id.clone()),
                ..LoggedEvent::default()
            },
        )
    }

    /// Prunes every account's log once. Returns how many entries were deleted.
    pub fn prune_events(&self) -> Result<u64> {
        let now = self.clock.now_ms();
        let mut total = 0;
        for account in self.accounts.list()? {
            total += self.events.prune(&account.id, now)?;
        }
        Ok(total)
    }

    /// Prunes at start and then every [`PRUNE_EVERY`], then warms the daily-aggregate caches.
    /// Runs until the process ends.
    pub async fn run_event_pruner(self: Arc<Self>) {
        loop {
            let platform = self.clone();
            match tokio::task::spawn_blocking(move || platform.prune_events()).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(deleted = n, "event log pruned"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "event log pruning failed"),
                Err(e) => tracing::error!(error = %e, "event log pruning task failed"),
            }
            let platform = self.clone();
            match tokio::task::spawn_blocking(move || platform.warm_event_caches()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "warming the event caches failed"),
                Err(e) => tracing::error!(error = %e, "warming the event caches failed"),
            }
            tokio::time::sleep(PRUNE_EVERY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ManualClock;
    use crate::storage::{Backend, SledBackend};

    /// A log on a fresh sled directory whose clock stands at `now` (ms).
    pub(super) fn log_at(dir: &std::path::Path, now: u64) -> (EventLog, Arc<ManualClock>) {
        let b: Arc<dyn Backend> = Arc::new(SledBackend::open(dir).unwrap());
        let clock = Arc::new(ManualClock::new(now));
        let log = EventLog::new(
            Store::new(b),
            EventOptions::default(),
            clock.clone(),
            Arc::new(Ids::new(now)),
        )
        .unwrap();
        (log, clock)
    }

    /// A log whose clock stands at 0: nothing is ever late or closed, so the bucket cache stays
    /// out of the way of the tests that do not test it.
    pub(super) fn log(dir: &std::path::Path) -> EventLog {
        log_at(dir, 0).0
    }

    pub(super) fn ev(at: u64, seq: u64, kind: EventKind, openid: &str, sub: &str) -> LoggedEvent {
        let mut e = LoggedEvent {
            id: event_id(at, &format!("{seq:020}")),
            at,
            kind,
            openid: Some(openid.into()),
            ..LoggedEvent::default()
        };
        match kind {
            EventKind::InboundMessage => e.msg_type = Some(sub.into()),
            EventKind::FollowerEvent => e.event = Some(sub.into()),
            EventKind::Delivery => {
                e.delivery = Some(match sub {
                    "broadcast" => Delivery::Broadcast,
                    _ => Delivery::Reply,
                });
                e.msg_type = Some("text".into());
                e.plugin = Some("probe".into());
            }
            EventKind::Plugin => {
                e.plugin = sub.split('.').next().map(str::to_string);
                e.plugin_kind = Some(sub.into());
            }
            EventKind::HttpOutbound => {
                e.plugin = Some("probe".into());
                e.http = Some(plugin::HttpRequest {
                    method: "GET".into(),
                    host: sub.into(),
                    status: Some(200),
                    error: None,
                    duration_ms: 5,
                });
            }
        }
        e
    }

    #[test]
    fn entries_round_trip_with_their_header() {
        let e = ev(
            1_700_000_000_000,
            7,
            EventKind::FollowerEvent,
            "o-1",
            "subscribe",
        );
        let v = encode(&e).unwrap();
        let (kind, sub, _) = header(&v).unwrap();
        assert_eq!((kind, sub), (EventKind::FollowerEvent, &b"subscribe"[..]));
        let mut k = prefix(&["acc"]);
        let n = k.len();
        k.extend_from_slice(e.id.as_bytes());
        assert_eq!(decode(n, &k, &v).unwrap(), e);
        assert_eq!(
            "delivery".parse::<EventKind>().unwrap(),
            EventKind::Delivery
        );
        assert!("nope".parse::<EventKind>().is_err());
    }

    #[test]
    fn entries_of_the_previous_version_still_decode() {
        // As the version before plugin events stored them: `openid` a string, `id` empty, none
        // of the new fields.
        let stored: [(&str, &[u8]); 2] = [
            (
                "1700000000000-00000000000000000007",
                b"\x02\x09subscribe{\"id\":\"\",\"at\":1700000000000,\"kind\":\"follower_event\",\
                  \"openid\":\"o-1\",\"event\":\"subscribe\",\"event_key\":\"qr-7\"}",
            ),
            (
                "1700000000001-00000000000000000008",
                b"\x03\x05reply{\"id\":\"\",\"at\":1700000000001,\"kind\":\"delivery\",\
                  \"openid\":\"o-2\",\"msg_type\":\"text\",\"delivery\":\"reply\",\
                  \"plugin\":\"auto-reply\",\"message_id\":\"m1\"}",
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let log = log(dir.path());
        for (id, v) in stored {
            log.store
                .write(|tx| tx.put_bytes(&log.tree, &child(&["a"], id.as_bytes()), v))
                .unwrap()
                .detach();
        }
        let got = log
            .list("a", &query::EventFilter::default(), None, 10)
            .unwrap()
            .events;
        assert_eq!(
            got,
            vec![
                LoggedEvent {
                    id: "1700000000000-00000000000000000007".into(),
                    at: 1_700_000_000_000,
                    kind: EventKind::FollowerEvent,
                    openid: Some("o-1".into()),
                    event: Some("subscribe".into()),
                    event_key: Some("qr-7".into()),
                    ..LoggedEvent::default()
                },
                LoggedEvent {
                    id: "1700000000001-00000000000000000008".into(),
                    at: 1_700_000_000_001,
                    kind: EventKind::Delivery,
                    openid: Some("o-2".into()),
                    msg_type: Some("text".into()),
                    delivery: Some(Delivery::Reply),
                    plugin: Some("auto-reply".into()),
                    message_id: Some("m1".into()),
                    ..LoggedEvent::default()
                },
            ]
        );
        assert_eq!(
            (got[1].kind_str(), got[1].sub_kind()),
            ("delivery", "reply")
        );
        // Re-encoded, an old entry keeps its header.
        let v = encode(&got[0]).unwrap();
        assert_eq!(header(&v).unwrap().1, b"subscribe");
    }

    #[test]
    fn plugin_and_http_entries_carry_their_sub_kind_in_the_header() {
        for (kind, sub) in [
            (EventKind::Plugin, "editor.article.read"),
            (EventKind::HttpOutbound, "api.example.com:8443"),
        ] {
            let mut e = ev(1_700_000_000_000, 1, kind, "o-1", sub);
            e.properties = vec![("b".into(), "2".into()), ("a".into(), "1".into())];
            let v = encode(&e).unwrap();
            let (k, s, body) = header(&v).unwrap();
            assert_eq!((k, s), (kind, sub.as_bytes()));
            // Properties are an object, in the order given.
            let json = std::str::from_utf8(body).unwrap();
            assert!(json.contains(r#""properties":{"b":"2","a":"1"}"#), "{json}");
            let mut key = prefix(&["acc"]);
            let n = key.len();
            key.extend_from_slice(e.id.as_bytes());
            assert_eq!(decode(n, &key, &v).unwrap(), e);
        }
    }

    #[tokio::test]
    async fn retention_defaults_overrides_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(dir.path());
        let now = 1_000 * DAY_MS;
        for (i, age_days) in [100u64, 91, 89, 1].iter().enumerate() {
            log.append(
                "a",
                &ev(
                    now - age_days * DAY_MS,
                    i as u64,
                    EventKind::Delivery,
                    "o",
                    "reply",
                ),
            )
            .unwrap();
            log.append(
                "b",
                &ev(
                    now - age_days * DAY_MS,
                    i as u64,
                    EventKind::Delivery,
                    "o",
                    "reply",
                ),
            )
            .unwrap();
        }
        assert_eq!(
            log.retention("a").unwrap(),
            Retention {
                days: 90,
                source: "default",
                default_days: 90
            }
        );
        assert!(log.set_retention("b", Some(0)).await.is_err());
        assert_eq!(
            log.set_retention("b", Some(30)).await.unwrap().source,
            "account"
        );
        assert_eq!(log.prune("a", now).unwrap(), 2);
        assert_eq!(log.prune("b", now).unwrap(), 3);
        assert_eq!(log.prune("a", now).unwrap(), 0);
        assert_eq!(log.tree.scan(&prefix(&["a"]), None, 100).unwrap().len(), 2);
        assert_eq!(log.tree.scan(&prefix(&["b"]), None, 100).unwrap().len(), 1);
        assert_eq!(log.set_retention("b", None).await.unwrap().days, 90);
    }
}
