//! Publishing (persist before acknowledging) and the delivery loop (at least once, with backoff,
//! then the dead-letter list), plus operator replay.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{PARKED_RECHECK_MS, TopicDelivery};
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::plugin_api as api;
use crate::runtime::Invocation;
use crate::storage::Pending;

/// How often the loop looks for due deliveries when nothing wakes it.
pub const POLL: Duration = Duration::from_millis(100);
/// Deliveries looked at per pass.
const BATCH: usize = 256;
/// Subscriber calls in flight at once (the rest of the batch waits for a slot).
const CONCURRENCY: usize = 32;

/// What replaying every dead letter of an account did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayReport {
    /// Re-queued deliveries.
    pub replayed: Vec<TopicDelivery>,
    /// Dead letters left on the list, with why (e.g. the subscriber is no longer installed).
    pub skipped: Vec<SkippedReplay>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedReplay {
    pub id: String,
    pub reason: String,
}

impl Platform {
    /// Publishes a topic event: one durable delivery per subscriber (every other enabled
    /// installation of the account whose grants subscribe to `topic`), committed before the
    /// event id is returned. The caller has checked the publish grant.
    pub async fn publish_topic(
        self: &Arc<Self>,
        account: &str,
        publisher: &str,
        topic: &str,
        payload: Vec<u8>,
    ) -> Result<String> {
        let event_id = self.ids.next("t");
        let now = self.clock.now_ms();
        let deliveries: Vec<TopicDelivery> = self
            .plugins
            .active(account)
            .iter()
            .filter(|a| {
                a.installation.plugin != publisher && a.installation.grants.subscribes_to(topic)
            })
            .map(|sub| TopicDelivery {
                id: self.ids.next("d"),
                event_id: event_id.clone(),
                account: account.to_string(),
                topic: topic.to_string(),
                publisher: publisher.to_string(),
                subscriber: sub.installation.plugin.clone(),
                payload: payload.clone(),
                published_at: now,
                attempts: 0,
                next_attempt_at: now,
                last_attempt_at: None,
                last_error: None,
                dead_at: None,
                replays: 0,
            })
            .collect();
        if deliveries.is_empty() {
            return Ok(event_id);
        }
        self.topics.enqueue(account, &deliveries)?.durable().await?;
        self.topics.wake();
        Ok(event_id)
    }

    /// The delivery loop. Runs until the process ends.
    pub async fn run_topic_delivery(self: Arc<Self>) {
        loop {
            if let Err(e) = self.deliver_due_topics().await {
                tracing::error!(error = %e, "topic delivery pass failed");
            }
            let _ = tokio::time::timeout(POLL, self.topics.woken()).await;
        }
    }

    /// One pass: attempts every delivery due now. Returns how many were attempted.
    pub async fn deliver_due_topics(self: &Arc<Self>) -> Result<usize> {
        let due = self.topics.due(self.clock.now_ms(), BATCH)?;
        let n = due.len();
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for d in due {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let platform = self.clone();
            tasks.spawn(async move {
                let r = platform.deliver_topic(d).await;
                drop(slot);
                r
            });
        }
        while let Some(res) = tasks.join_next().await {
            match res {
                Ok(Err(e)) => tracing::error!(error = %e, "topic delivery bookkeeping failed"),
                Err(e) => tracing::error!(error = %e, "topic delivery task panicked"),
                Ok(Ok(())) => {}
            }
        }
        Ok(n)
    }

    async fn deliver_topic(self: &Arc<Self>, d: TopicDelivery) -> Result<()> {
        self.attempt_topic(d).await?.durable().await
    }

    /// Attempts one delivery and returns the unit of work recording the outcome.
    async fn attempt_topic(self: &Arc<Self>, d: TopicDelivery) -> Result<Pending<()>> {
        let Some(active) = self.plugins.find_active(&d.account, &d.subscriber) else {
            return match self.plugins.installations.get(&d.account, &d.subscriber) {
                Err(PlazaError::NotFound(_)) => {
                    tracing::warn!(account = %d.account, plugin = %d.subscriber, event = %d.event_id, topic = %d.topic,
                        "topic delivery dropped: the subscriber is no longer installed");
                    self.topics.complete(&d)
                }
                Err(e) => Err(e),
                // Disabled: wait without counting an attempt.
                Ok(_) => {
                    let parked = TopicDelivery {
                        next_attempt_at: self.clock.now_ms().saturating_add(PARKED_RECHECK_MS),
                        ..d.clone()
                    };
                    self.topics.reschedule(&d, &parked)
                }
            };
        };
        if !active.installation.grants.subscribes_to(&d.topic) {
            tracing::warn!(account = %d.account, plugin = %d.subscriber, event = %d.event_id, topic = %d.topic,
                "topic delivery dropped: the subscription is no longer granted");
            return self.topics.complete(&d);
        }
        let attempt = d.attempts.saturating_add(1);
        let event = api::Event::Topic(api::TopicMessage {
            topic: d.topic.clone(),
            payload: d.payload.clone(),
            publisher: d.publisher.clone(),
            id: d.event_id.clone(),
            attempt,
        });
        let result = self
            .call_plugin(&active, None, false, |ctx| Invocation::Event(ctx, event))
            .await;
        let now = self.clock.now_ms();
        let failure = match result {
            Ok(_) => return self.topics.complete(&d),
            Err(f) => f.to_string(),
        };
        let failed = TopicDelivery {
            attempts: attempt,
            last_attempt_at: Some(now),
            last_error: Some(failure),
            ..d.clone()
        };
        if attempt >= self.topics.options.max_attempts {
            tracing::warn!(account = %d.account, plugin = %d.subscriber, event = %d.event_id, topic = %d.topic,
                attempts = attempt, "topic delivery moved to the dead-letter list");
            let dead = TopicDelivery {
                dead_at: Some(now),
                ..failed
            };
            return self.topics.bury(&d, &dead);
        }
        let retry = TopicDelivery {
            next_attempt_at: now.saturating_add(self.topics.options.backoff_ms(attempt)),
            ..failed
        };
        self.topics.reschedule(&d, &retry)
    }

    /// Re-queues one dead letter with its attempt count reset; durable before it returns.
    pub async fn replay_dead_letter(
        self: &Arc<Self>,
        account: &str,
        id: &str,
    ) -> Result<TopicDelivery> {
        self.accounts.get(account)?;
        let d = self.topics.get_dead(account, id)?;
        self.plugins
            .installations
            .get(account, &d.subscriber)
            .map_err(|_| {
                PlazaError::Conflict(format!(
                    "dead letter {id:?} is for plugin {:?}, which is no longer installed on {account:?}; discard it instead",
                    d.subscriber
                ))
            })?;
        let again = self
            .topics
            .replay(account, id, self.clock.now_ms())?
            .durable()
            .await?;
        self.topics.wake();
        Ok(again)
    }

    /// Re-queues every dead letter of the account whose subscriber is still installed.
    pub async fn replay_all_dead_letters(self: &Arc<Self>, account: &str) -> Result<ReplayReport> {
        self.accounts.get(account)?;
        let mut report = ReplayReport::default();
        let mut replayed = Vec::new();
        let now = self.clock.now_ms();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = self.topics.list_dead(account, cursor.as_deref(), 1000)?;
            for d in page {
                if self
                    .plugins
                    .installations
                    .get(account, &d.subscriber)
                    .is_err()
                {
                    report.skipped.push(SkippedReplay {
                        id: d.id,
                        reason: format!("plugin {:?} is no longer installed", d.subscriber),
                    });
                    continue;
                }
                match self.topics.replay(account, &d.id, now) {
                    Ok(again) => replayed.push(again),
                    // Replayed or discarded concurrently.
                    Err(PlazaError::NotFound(_)) => continue,
                    Err(e @ PlazaError::QuotaExceeded { .. }) => {
                        report.skipped.push(SkippedReplay {
                            id: d.id,
                            reason: e.message(),
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        report.replayed = Pending::all(replayed).durable().await?;
        self.topics.wake();
        Ok(report)
    }

    /// Removes a dead letter for good.
    pub async fn discard_dead_letter(
        self: &Arc<Self>,
        account: &str,
        id: &str,
    ) -> Result<TopicDelivery> {
        self.accounts.get(account)?;
        self.topics.take_dead(account, id)?.durable().await
    }
}
