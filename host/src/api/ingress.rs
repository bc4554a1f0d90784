//! The local channel over HTTP: inbound messages in, follower outboxes out.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::auth::{is_admin, require_ingress};
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::channels::local::InboundJson;
use crate::error::PlazaError;
use crate::links::content::{ContentLink, content_links};
use crate::messaging::outbox::OutboxEntry;

/// `POST /api/v1/accounts/{account}/inbound` → `{"reply": {...} | null}`.
///
/// Authenticates before anything else, the body included: a caller without a valid credential
/// gets one and the same 401 whether the account exists or not and whatever it sent, so it can
/// neither probe for accounts nor learn how bodies are parsed.
pub async fn inbound(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    // The admin token needs no account lookup (the hot path of a channel bridge using it).
    if !is_admin(request.headers(), &s.admin_token) {
        let known = match s.platform.accounts.get(&account) {
            Ok(acc) => Some(acc),
            Err(PlazaError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        require_ingress(request.headers(), &s.admin_token, known.as_ref())?;
    }
    let ApiJson(body) = ApiJson::<InboundJson>::from_request(request, &s).await?;
    let inbound = body.into_inbound(s.platform.clock.now_ms())?;
    s.platform.metrics.count_inbound("local");
    let outcome = s.platform.handle_inbound(&account, inbound).await?;
    Ok(Json(json!({ "reply": outcome.reply })))
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    /// Return messages after this message id (for polling).
    after: Option<String>,
    limit: Option<usize>,
}

/// An outbox entry as the follower's outbox shows it: the entry as stored, and the links in its
/// content (`[{"url", "title"?}]`, http(s) only) so that a page can render them clickable.
#[derive(Serialize)]
struct OutboxView<'a> {
    #[serde(flatten)]
    entry: &'a OutboxEntry,
    links: Vec<ContentLink>,
}

/// `GET /api/v1/accounts/{account}/followers/{openid}/messages`: the follower's outbox, oldest
/// first, each message with its `links`.
pub async fn follower_messages(
    State(s): State<AppState>,
    ApiPath((account, openid)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let messages = outbox_views(
        &s,
        &account,
        &openid,
        q.after.as_deref(),
        q.limit.unwrap_or(100).clamp(1, 1000),
    )?;
    Ok(Json(json!({ "messages": messages })))
}

/// A page of the follower's outbox as JSON views (see [`OutboxView`]), media URLs resolved.
fn outbox_views(
    s: &AppState,
    account: &str,
    openid: &str,
    after: Option<&str>,
    limit: usize,
) -> crate::error::Result<Vec<serde_json::Value>> {
    let mut messages = s.platform.outbox.list(account, openid, after, limit)?;
    // A media message that names a blob of the account's store shows where it is served.
    let public_url = s.platform.public_url();
    for m in &mut messages {
        s.platform
            .media
            .resolve_url(&public_url, account, &mut m.content)?;
    }
    messages
        .iter()
        .map(|entry| {
            serde_json::to_value(OutboxView {
                entry,
                links: content_links(&entry.content),
            })
            .map_err(PlazaError::internal)
        })
        .collect()
}

/// Entries read per wake-up of a message stream; a longer backlog is sent over several reads.
const STREAM_PAGE: usize = 100;

/// `GET /api/v1/accounts/{account}/followers/{openid}/messages/stream`: server-sent events, one
/// `message` event (id = the entry id, data = the entry as `/messages` shows it) per outbox entry
/// delivered after `?after=` (or the `Last-Event-ID` of a reconnecting client; neither: after
/// the newest entry at connect time, i.e. only new messages).
///
/// It wakes on every committed unit of work ([`crate::storage::Store::subscribe_commits`]) and
/// reads the outbox past the last entry sent, so it never misses an entry (entry ids are
/// time-ordered) and never polls an idle server. Each stream holds one `watch` receiver and at
/// most one page of entries: bounded, whatever the backlog. It stays behind the admin token like
/// every admin route: the console reads it with `fetch` (which can send the `Authorization`
/// header, unlike `EventSource`), so the token never goes in a URL or an access log.
pub async fn follower_messages_stream(
    State(s): State<AppState>,
    ApiPath((account, openid)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    // Subscribed before the starting point is read: an entry committed in between wakes it.
    let mut commits = s.platform.store.subscribe_commits();
    commits.mark_changed();
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let after = match q.after.or(last_event_id) {
        Some(after) => Some(after).filter(|a| !a.is_empty()),
        None => newest_entry(&s, &account, &openid)?,
    };
    let state = StreamState {
        s,
        account,
        openid,
        after,
        commits,
        queue: VecDeque::new(),
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.queue.pop_front() {
                return Some((Ok::<_, Infallible>(event), st));
            }
            if st.done || st.commits.changed().await.is_err() {
                return None;
            }
            st.read_more();
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

struct StreamState {
    s: AppState,
    account: String,
    openid: String,
    after: Option<String>,
    commits: tokio::sync::watch::Receiver<u64>,
    queue: VecDeque<Event>,
    /// Set after a read failed: the stream sends an `error` event and ends (the client
    /// reconnects with `Last-Event-ID`).
    done: bool,
}

impl StreamState {
    /// Queues the entries past `after` (one page; a full page marks the receiver changed so the
    /// next turn reads on at once).
    fn read_more(&mut self) {
        let page = outbox_views(
            &self.s,
            &self.account,
            &self.openid,
            self.after.as_deref(),
            STREAM_PAGE,
        );
        let views = match page {
            Ok(views) => views,
            Err(e) => {
                self.queue.push_back(
                    Event::default()
                        .event("error")
                        .data(json!({ "code": e.code(), "message": e.message() }).to_string()),
                );
                self.done = true;
                return;
            }
        };
        if views.len() == STREAM_PAGE {
            self.commits.mark_changed();
        }
        for view in views {
            let id = view["id"].as_str().unwrap_or_default().to_string();
            self.queue.push_back(
                Event::default()
                    .event("message")
                    .id(&id)
                    .data(view.to_string()),
            );
            self.after = Some(id);
        }
    }
}

/// The id of the follower's newest outbox entry, if any.
fn newest_entry(s: &AppState, account: &str, openid: &str) -> crate::error::Result<Option<String>> {
    let mut after: Option<String> = None;
    loop {
        let page = s
            .platform
            .outbox
            .list(account, openid, after.as_deref(), 1000)?;
        let full = page.len() == 1000;
        if let Some(last) = page.last() {
            after = Some(last.id.clone());
        }
        if !full {
            return Ok(after);
        }
    }
}
