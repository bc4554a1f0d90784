//! Channels bring follower traffic in and carry replies out. Every channel feeds the same inbound
//! pipeline: de-duplicate → record the interaction → plugins in priority order until one replies
//! → deliver the reply.

pub mod developer_server;
pub mod local;
pub mod wechat;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::accounts::followers::{PendingInteraction, Touch};
use crate::error::{PlazaError, Result};
use crate::messaging::content::MessageContent;
use crate::messaging::outbox::Delivery;
use crate::messaging::outbox::OutboxEntry;
use crate::messaging::review::Review;
use crate::platform::Platform;
use crate::plugin_api as api;
use crate::plugins::ActiveInstallation;
use crate::runtime::{Invocation, Outcome};
use crate::storage::backend::key;
use crate::storage::{Bytes, Json, Store, Table, Tx};

/// One inbound message or event, channel-neutral.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Retries of the same message carry the same key; `None` disables de-duplication.
    pub dedup_key: Option<String>,
    pub from: String,
    /// Milliseconds since the epoch.
    pub at: u64,
    pub kind: InboundKind,
}

impl Inbound {
    /// What identifies this message in logs: the channel's message id, or for an event its
    /// de-duplication key (empty when it has neither).
    pub fn message_id(&self) -> &str {
        match &self.kind {
            InboundKind::Message { msg_id, .. } => msg_id,
            InboundKind::Event(_) => self.dedup_key.as_deref().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum InboundKind {
    Message {
        msg_id: String,
        body: api::InboundBody,
    },
    Event(api::FollowerEventKind),
}

/// What the pipeline answered, stored per de-duplication key so a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundOutcome {
    pub reply: Option<MessageContent>,
    /// The plugin that replied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

type Waiting = watch::Receiver<Option<InboundOutcome>>;

/// One participant's turn in the inbound pipeline.
enum Turn<'a> {
    Plugin(&'a Arc<ActiveInstallation>),
    DeveloperServer(&'a developer_server::DeveloperServer),
}

/// How long a handled message's de-duplication record is kept by default: far longer than any
/// channel retries (WeChat retries three times within 15 s).
pub const DEFAULT_DEDUP_RETENTION_MS: u64 = 3_600_000;
/// Expired de-duplication records removed per unit of work.
const DEDUP_PRUNE_BATCH: usize = 1000;

/// Where a de-duplicated message stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Seen {
    /// The interaction is recorded (follower, event log); plugins have not answered yet. A retry
    /// after a crash runs the plugins again without recording the interaction twice.
    Recorded,
    /// Handled: a retry gets this answer.
    Done(InboundOutcome),
}

/// Durable record of handled inbound messages, keyed by account, sender and the channel's message
/// key (WeChat de-duplicates messages by MsgId per sender and events by FromUserName +
/// CreateTime), plus the in-flight set, so that concurrent retries of one message wait for the
/// first instead of calling plugins twice.
///
/// Records are kept in generations of `retention` each, the generation leading the key: a
/// message is looked up in the current generation and the one before, and a pass removes older
/// generations with one ordered scan. So a record lives between one and two retention periods,
/// and keeping it costs no index of its own on the inbound path.
pub struct InboundDedup {
    seen: Table<Json<Seen>>,
    /// Records of an older version, keyed without the sender; removed by the pruner.
    legacy: Table<Bytes>,
    retention_ms: u64,
    in_flight: Mutex<HashMap<Vec<u8>, Waiting>>,
}

enum Claim {
    Done(InboundOutcome),
    Wait(Waiting),
    Mine {
        tx: watch::Sender<Option<InboundOutcome>>,
        /// Where the record is (or will be) kept.
        record: Vec<u8>,
        /// A previous attempt recorded the interaction, then stopped (crash) before answering.
        recorded: bool,
    },
}

impl InboundDedup {
    pub fn new(store: &Store, retention_ms: u64) -> Result<Self> {
        Ok(InboundDedup {
            seen: store.table("inbound_seen")?,
            legacy: store.table("inbound_dedup")?,
            retention_ms: retention_ms.max(1),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    fn generation(&self, now: u64) -> u64 {
        now / self.retention_ms
    }

    fn record_key(generation: u64, message: &[u8]) -> Vec<u8> {
        let mut k = format!("{generation:012}").into_bytes();
        k.push(0);
        k.extend_from_slice(message);
        k
    }

    /// `message` identifies the message (account, sender, channel key); the in-flight set is
    /// keyed by it, the stored record by generation and it.
    fn claim(&self, message: &[u8], now: u64) -> Result<Claim> {
        let mut in_flight = self
            .in_flight
            .lock()
            .map_err(|_| PlazaError::internal("dedup lock poisoned"))?;
        if let Some(rx) = in_flight.get(message) {
            return Ok(Claim::Wait(rx.clone()));
        }
        let current = self.generation(now);
        let mut record = Self::record_key(current, message);
        let mut found = self.seen.get(&record)?;
        if found.is_none() && current > 0 {
            let previous = Self::record_key(current - 1, message);
            found = self.seen.get(&previous)?;
            if found.is_some() {
                record = previous;
            }
        }
        let recorded = match found {
            Some(Seen::Done(o)) => return Ok(Claim::Done(o)),
            Some(Seen::Recorded) => true,
            None => false,
        };
        let (tx, rx) = watch::channel(None);
        in_flight.insert(message.to_vec(), rx);
        Ok(Claim::Mine {
            tx,
            record,
            recorded,
        })
    }

    fn release(&self, message: &[u8]) {
        if let Ok(mut m) = self.in_flight.lock() {
            m.remove(message);
        }
    }

    /// Writes the record in the caller's unit of work.
    fn mark(&self, tx: &mut Tx<'_>, record: &[u8], seen: &Seen) -> Result<()> {
        tx.put(&self.seen, record, seen)
    }
}

/// The behaviour counter an interaction of this kind bumps (none for (un)subscriptions).
fn interaction_counter(kind: &InboundKind) -> Option<&'static str> {
    match kind {
        InboundKind::Message { .. } => Some("messages"),
        InboundKind::Event(
            api::FollowerEventKind::Subscribe(_) | api::FollowerEventKind::Unsubscribe,
        ) => None,
        InboundKind::Event(
            api::FollowerEventKind::MenuClick(_) | api::FollowerEventKind::MenuView(_),
        ) => Some("clicks"),
        InboundKind::Event(_) => Some("events"),
    }
}

/// What recording an inbound of this kind does to the follower.
fn counter_for(kind: &InboundKind) -> Touch<'_> {
    match kind {
        InboundKind::Event(api::FollowerEventKind::Subscribe(scene)) => Touch::Subscribe {
            scene: scene.as_deref(),
        },
        InboundKind::Event(api::FollowerEventKind::Unsubscribe) => Touch::Unsubscribe,
        other => Touch::Interaction {
            counter: interaction_counter(other).unwrap_or("events"),
        },
    }
}

impl Platform {
    /// Runs the inbound pipeline for one message or event and returns the passive reply. Runs
    /// in an `inbound` span naming account and message, so every log line of the pipeline (the
    /// plugin calls' `plugin_call` spans nest in it) says which message it is about.
    #[tracing::instrument(name = "inbound", skip_all, fields(account = %account_id, message = inbound.message_id()))]
    pub async fn handle_inbound(
        self: &Arc<Self>,
        account_id: &str,
        inbound: Inbound,
    ) -> Result<InboundOutcome> {
        let account = self.accounts.get(account_id)?;
        let Some(dk) = &inbound.dedup_key else {
            return self.process(&account.id, None, false, inbound).await;
        };
        let k = key(&[&account.id, &inbound.from, dk]);
        loop {
            match self.inbound.claim(&k, self.clock.now_ms())? {
                Claim::Done(o) => return Ok(o),
                Claim::Wait(mut rx) => {
                    // The first delivery is being handled; answer as it does.
                    match rx.wait_for(|o| o.is_some()).await {
                        Ok(o) => {
                            return o
                                .clone()
                                .ok_or_else(|| PlazaError::internal("empty outcome"));
                        }
                        // The first handler failed without an answer: claim again.
                        Err(_) => continue,
                    }
                }
                Claim::Mine {
                    tx,
                    record,
                    recorded,
                } => {
                    let result = self
                        .process(&account.id, Some(&record), recorded, inbound.clone())
                        .await;
                    if let Ok(o) = &result {
                        tx.send_replace(Some(o.clone()));
                    }
                    self.inbound.release(&k);
                    return result;
                }
            }
        }
    }

    /// Records the interaction, asks the plugins in priority order, delivers the first reply —
    /// in one unit of work when it can, so that an inbound message's effects (follower counters,
    /// event log, reply, de-duplication record) commit together.
    ///
    /// A new follower and a (un)subscription are recorded first, in a unit of work of their own
    /// (with a "recorded" de-duplication mark, so a retry after a crash does not record them
    /// twice), because plugins act on them (tag the new follower, …). A message or event from a
    /// known follower is recorded with the answer; meanwhile the plugins see the follower as it
    /// will be through a [`PendingInteraction`]. The answer is returned once durable.
    async fn process(
        self: &Arc<Self>,
        account: &str,
        dedup: Option<&[u8]>,
        already_recorded: bool,
        inbound: Inbound,
    ) -> Result<InboundOutcome> {
        let touch = counter_for(&inbound.kind);
        let record_first = !already_recorded
            && (matches!(touch, Touch::Subscribe { .. } | Touch::Unsubscribe)
                || !self.followers.exists(account, &inbound.from)?);
        let recorded = if record_first {
            Some(self.store.write(|tx| {
                self.followers
                    .touch_in(tx, account, &inbound.from, &touch, inbound.at)?;
                self.log_inbound_in(tx, account, &inbound)?;
                if let Some(k) = dedup {
                    self.inbound.mark(tx, k, &Seen::Recorded)?;
                }
                Ok(())
            })?)
        } else {
            None
        };
        let record_with_answer = !record_first && !already_recorded;
        // Stamped now, so that in the log it comes before what the plugins deliver meanwhile.
        let logged = record_with_answer.then(|| self.inbound_event(&inbound));
        let pending = interaction_counter(&inbound.kind)
            .filter(|_| record_with_answer)
            .map(|counter| PendingInteraction {
                openid: inbound.from.clone(),
                counter,
                at: inbound.at,
            });
        let (outcome, delivery) = self.ask_plugins(account, &inbound, pending).await?;
        let answered = self.store.write(|tx| {
            if let Some(ev) = &logged {
                self.followers
                    .touch_in(tx, account, &inbound.from, &touch, inbound.at)?;
                self.events.append_in(tx, account, ev)?;
            }
            if let Some(entry) = &delivery {
                self.deliver_in(tx, account, &inbound.from, entry)?;
                if let (
                    MessageContent::TransferCustomerService,
                    InboundKind::Message { body, .. },
                ) = (&entry.content, &inbound.kind)
                {
                    self.service_desk
                        .note_handover_message_in(tx, account, &inbound.from, body)?;
                }
            }
            if let Some(k) = dedup {
                self.inbound.mark(tx, k, &Seen::Done(outcome.clone()))?;
            }
            Ok(())
        })?;
        // The answer was committed after the interaction: one flush covers both.
        if let Some(r) = recorded {
            r.covered_by(&answered);
        }
        answered.durable().await?;
        Ok(outcome)
    }

    /// Gives each participant of the account — its enabled plugins (`on-message` / `on-event`)
    /// and its developer server (a push), in priority order — a turn until one replies; reviews
    /// that reply. Returns the outcome and the outbox entry to deliver.
    async fn ask_plugins(
        self: &Arc<Self>,
        account: &str,
        inbound: &Inbound,
        pending: Option<PendingInteraction>,
    ) -> Result<(InboundOutcome, Option<OutboxEntry>)> {
        let unsubscribe = matches!(
            inbound.kind,
            InboundKind::Event(api::FollowerEventKind::Unsubscribe)
        );
        let active = self.plugins.active(account);
        // A setting that cannot be read is logged and skipped: the plugins still answer.
        let developer = self.developer_servers.get(account).unwrap_or_else(|e| {
            tracing::error!(account, error = %e, "cannot read the developer-server setting");
            None
        });
        let mut turns: Vec<Turn<'_>> = Vec::with_capacity(active.len() + 1);
        let mut developer_turn = developer.as_ref();
        for a in active.iter() {
            if let Some(server) = developer_turn
                && !developer_server::plugin_runs_first(
                    a.installation.priority,
                    &a.installation.plugin,
                    server,
                )
            {
                turns.push(Turn::DeveloperServer(server));
                developer_turn = None;
            }
            turns.push(Turn::Plugin(a));
        }
        if let Some(server) = developer_turn {
            turns.push(Turn::DeveloperServer(server));
        }
        for turn in turns {
            let (participant, content) = match turn {
                Turn::Plugin(active) => match self.ask_plugin(active, inbound, &pending).await {
                    Some(content) => (active.installation.plugin.clone(), content),
                    None => continue,
                },
                Turn::DeveloperServer(server) => {
                    match self
                        .push_to_developer_server(account, server, inbound)
                        .await
                    {
                        Some(content) => (developer_server::PARTICIPANT.to_string(), content),
                        None => continue,
                    }
                }
            };
            if unsubscribe {
                continue;
            }
            // The first reply is the answer, even if review blocks it: the follower then
            // gets no reply, and the review queue says why.
            let review = self
                .review_outbound(
                    account,
                    Delivery::Reply,
                    Some(&participant),
                    &inbound.from,
                    content,
                )
                .await?;
            let Review::Allow(content) = review else {
                return Ok((
                    InboundOutcome {
                        reply: None,
                        plugin: Some(participant),
                    },
                    None,
                ));
            };
            let entry = self.outbox_entry(Delivery::Reply, Some(&participant), content.clone());
            return Ok((
                InboundOutcome {
                    reply: Some(content),
                    plugin: Some(participant),
                },
                Some(entry),
            ));
        }
        Ok((
            InboundOutcome {
                reply: None,
                plugin: None,
            },
            None,
        ))
    }

    /// One plugin's turn: its reply, if it gave one. A failing plugin is contained (and logged
    /// by `call_plugin`): it has no reply, and the next participant gets a turn.
    async fn ask_plugin(
        self: &Arc<Self>,
        active: &Arc<ActiveInstallation>,
        inbound: &Inbound,
        pending: &Option<PendingInteraction>,
    ) -> Option<MessageContent> {
        let from = inbound.from.clone();
        let result = match &inbound.kind {
            InboundKind::Message { msg_id, body } => {
                let msg = api::InboundMessage {
                    msg_id: msg_id.clone(),
                    from: from.clone(),
                    at: inbound.at,
                    body: body.clone(),
                };
                self.call_plugin_during(active, Some(from), pending.clone(), false, |ctx| {
                    Invocation::Message(ctx, msg)
                })
                .await
            }
            InboundKind::Event(kind) => {
                let ev = api::Event::Follower(api::FollowerEvent {
                    from: from.clone(),
                    at: inbound.at,
                    kind: kind.clone(),
                });
                self.call_plugin_during(active, Some(from), pending.clone(), false, |ctx| {
                    Invocation::Event(ctx, ev)
                })
                .await
            }
        };
        match result {
            Ok(Outcome::Reply(Some(content))) => Some(content),
            _ => None,
        }
    }

    /// Prunes expired de-duplication records every minute. Runs until the process ends.
    pub async fn run_dedup_pruner(self: Arc<Self>) {
        loop {
            let platform = self.clone();
            match tokio::task::spawn_blocking(move || platform.prune_inbound_dedup()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "pruning inbound de-duplication records failed")
                }
                Err(e) => tracing::error!(error = %e, "pruning task failed"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    }

    /// Removes de-duplication records of generations before the previous one (and a batch of an
    /// older version's). Returns how many.
    pub fn prune_inbound_dedup(&self) -> Result<u64> {
        let d = &self.inbound;
        let current = d.generation(self.clock.now_ms());
        let mut removed = 0;
        if current >= 2 {
            let end = InboundDedup::record_key(current - 1, b"");
            loop {
                let expired: Vec<Vec<u8>> = d
                    .seen
                    .raw(b"", None, DEDUP_PRUNE_BATCH)?
                    .into_iter()
                    .map(|(k, _)| k)
                    .take_while(|k| k.as_slice() < end.as_slice())
                    .collect();
                if expired.is_empty() {
                    break;
                }
                removed += self
                    .store
                    .write(|tx| {
                        for k in &expired {
                            tx.delete(&d.seen, k)?;
                        }
                        Ok(expired.len() as u64)
                    })?
                    .detach();
            }
        }
        let legacy = d.legacy.keys(b"", None, DEDUP_PRUNE_BATCH)?;
        if !legacy.is_empty() {
            removed += self
                .store
                .write(|tx| {
                    for k in &legacy {
                        tx.delete(&d.legacy, k)?;
                    }
                    Ok(legacy.len() as u64)
                })?
                .detach();
        }
        Ok(removed)
    }
}
