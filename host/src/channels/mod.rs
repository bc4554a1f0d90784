//! Channels bring follower traffic in and carry replies out. Every channel feeds the same inbound
//! pipeline: de-duplicate → record the interaction → plugins in priority order until one replies
//! → deliver the reply.

pub mod local;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::accounts::followers::Touch;
use crate::error::{PlazaError, Result};
use crate::messaging::content::MessageContent;
use crate::messaging::outbox::Delivery;
use crate::messaging::review::Review;
use crate::platform::Platform;
use crate::runtime::{Invocation, Outcome, wit};
use crate::storage::backend::{Tree, key};

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

#[derive(Debug, Clone)]
pub enum InboundKind {
    Message {
        msg_id: String,
        body: wit::InboundBody,
    },
    Event(wit::FollowerEventKind),
}

/// What the pipeline answered, stored per de-duplication key so a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundOutcome {
    pub reply: Option<MessageContent>,
    /// The plugin that replied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

type Pending = watch::Receiver<Option<InboundOutcome>>;

/// Durable record of handled inbound keys plus the in-flight set, so that concurrent retries of one
/// message wait for the first instead of calling plugins twice.
pub struct InboundDedup {
    done: Arc<dyn Tree>,
    in_flight: Mutex<HashMap<Vec<u8>, Pending>>,
}

enum Claim {
    Done(InboundOutcome),
    Wait(Pending),
    Mine(watch::Sender<Option<InboundOutcome>>),
}

impl InboundDedup {
    pub fn new(done: Arc<dyn Tree>) -> Self {
        InboundDedup {
            done,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn claim(&self, k: &[u8]) -> Result<Claim> {
        let mut in_flight = self
            .in_flight
            .lock()
            .map_err(|_| PlazaError::internal("dedup lock poisoned"))?;
        if let Some(rx) = in_flight.get(k) {
            return Ok(Claim::Wait(rx.clone()));
        }
        if let Some(b) = self.done.get(k)? {
            return Ok(Claim::Done(serde_json::from_slice(&b)?));
        }
        let (tx, rx) = watch::channel(None);
        in_flight.insert(k.to_vec(), rx);
        Ok(Claim::Mine(tx))
    }

    fn release(&self, k: &[u8]) {
        if let Ok(mut m) = self.in_flight.lock() {
            m.remove(k);
        }
    }
}

fn counter_for(kind: &InboundKind) -> Touch<'static> {
    match kind {
        InboundKind::Message { .. } => Touch::Interaction {
            counter: "messages",
        },
        InboundKind::Event(wit::FollowerEventKind::Subscribe(_)) => {
            Touch::Subscribe { scene: None }
        }
        InboundKind::Event(wit::FollowerEventKind::Unsubscribe) => Touch::Unsubscribe,
        InboundKind::Event(
            wit::FollowerEventKind::MenuClick(_) | wit::FollowerEventKind::MenuView(_),
        ) => Touch::Interaction { counter: "clicks" },
        InboundKind::Event(_) => Touch::Interaction { counter: "events" },
    }
}

impl Platform {
    /// Runs the inbound pipeline for one message or event and returns the passive reply.
    pub async fn handle_inbound(
        self: &Arc<Self>,
        account_id: &str,
        inbound: Inbound,
    ) -> Result<InboundOutcome> {
        let account = self.accounts.get(account_id)?;
        let Some(dk) = &inbound.dedup_key else {
            let outcome = self.process(&account.id, inbound).await?;
            self.commit.commit().await?;
            return Ok(outcome);
        };
        let k = key(&[&account.id, dk]);
        loop {
            match self.inbound.claim(&k)? {
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
                Claim::Mine(tx) => {
                    let result = self.process_once(&account.id, &k, inbound.clone()).await;
                    if let Ok(o) = &result {
                        tx.send_replace(Some(o.clone()));
                    }
                    self.inbound.release(&k);
                    return result;
                }
            }
        }
    }

    async fn process_once(
        self: &Arc<Self>,
        account: &str,
        k: &[u8],
        inbound: Inbound,
    ) -> Result<InboundOutcome> {
        let outcome = self.process(account, inbound).await?;
        self.inbound
            .done
            .insert(k, &serde_json::to_vec(&outcome)?)?;
        // One group commit covers the follower update, the outbox entry and the de-dup record.
        self.commit.commit().await?;
        Ok(outcome)
    }

    async fn process(self: &Arc<Self>, account: &str, inbound: Inbound) -> Result<InboundOutcome> {
        let touch = match &inbound.kind {
            InboundKind::Event(wit::FollowerEventKind::Subscribe(scene)) => Touch::Subscribe {
                scene: scene.as_deref(),
            },
            other => counter_for(other),
        };
        self.followers
            .touch(account, &inbound.from, touch, inbound.at)?;
        self.log_inbound(account, &inbound)?;
        let unsubscribe = matches!(
            inbound.kind,
            InboundKind::Event(wit::FollowerEventKind::Unsubscribe)
        );

        for active in self.plugins.active(account).iter() {
            let from = inbound.from.clone();
            let result = match &inbound.kind {
                InboundKind::Message { msg_id, body } => {
                    let msg = wit::InboundMessage {
                        msg_id: msg_id.clone(),
                        from: from.clone(),
                        at: inbound.at,
                        body: body.clone(),
                    };
                    self.call_plugin(active, Some(from), false, |ctx| {
                        Invocation::Message(ctx, msg)
                    })
                    .await
                }
                InboundKind::Event(kind) => {
                    let ev = wit::Event::Follower(wit::FollowerEvent {
                        from: from.clone(),
                        at: inbound.at,
                        kind: kind.clone(),
                    });
                    self.call_plugin(active, Some(from), false, |ctx| Invocation::Event(ctx, ev))
                        .await
                }
            };
            // A failing plugin is contained (and logged by call_plugin); the next one gets a turn.
            if let Ok(Outcome::Reply(Some(content))) = result {
                if unsubscribe {
                    continue;
                }
                let plugin = active.installation.plugin.clone();
                let content: MessageContent = content.into();
                // The first reply is the answer, even if review blocks it: the follower then
                // gets no reply, and the review queue says why.
                let review = self
                    .review_outbound(
                        account,
                        Delivery::Reply,
                        Some(&plugin),
                        &inbound.from,
                        content,
                    )
                    .await?;
                let Review::Allow(content) = review else {
                    return Ok(InboundOutcome {
                        reply: None,
                        plugin: Some(plugin),
                    });
                };
                self.deliver(
                    account,
                    &inbound.from,
                    Delivery::Reply,
                    Some(&plugin),
                    content.clone(),
                )?;
                return Ok(InboundOutcome {
                    reply: Some(content),
                    plugin: Some(plugin),
                });
            }
        }
        Ok(InboundOutcome {
            reply: None,
            plugin: None,
        })
    }
}
