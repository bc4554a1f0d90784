//! Admin routes of the event log: filtered listing, daily aggregates, retention.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use super::topics::page_limit;
use crate::error::{PlazaError, Result};
use crate::events::kinds::KindSelector;
use crate::events::query::{EventFilter, local_date, parse_day, parse_time, parse_timezone};

pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route("/accounts/{account}/events", get(list))
        .route("/accounts/{account}/events/daily", get(daily))
        .route(
            "/accounts/{account}/events/retention",
            get(get_retention).put(set_retention),
        )
}

#[derive(Deserialize)]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    /// Kind selectors, comma-separated (`kinds`, or `kind` as before): built-in kinds,
    /// plugin event kinds (`editor.article.read`), prefixes (`ads.*`).
    kind: Option<String>,
    kinds: Option<String>,
    openid: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// The selectors of `kind` and `kinds` (both comma-separated; empty items ignored).
fn kinds(kind: Option<&str>, kinds: Option<&str>) -> Result<Vec<KindSelector>> {
    KindSelector::parse_list(
        [kind, kinds]
            .into_iter()
            .flatten()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|k| !k.is_empty()),
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PlazaError::internal(format!("event log task failed: {e}")))?
}

/// `GET /api/v1/accounts/{account}/events?from=&to=&kinds=&openid=&cursor=&limit=`: entries oldest
/// first. `kinds` (or `kind`): comma-separated `inbound_message`, `follower_event`, `delivery`,
/// `http_outbound`, `plugin`, plugin event kinds (`editor.article.read`) or prefixes (`ads.*`). `from` (inclusive) and `to` (exclusive) are ms, RFC 3339 or `YYYY-MM-DD` in the account's
/// timezone (a date as `to` includes that whole day).
pub async fn list(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<impl IntoResponse> {
    let acc = s.platform.accounts.get(&account)?;
    let tz = parse_timezone(&acc.timezone)?;
    let filter = EventFilter {
        from: q
            .from
            .as_deref()
            .map(|v| parse_time("from", v, tz, false))
            .transpose()?
            .unwrap_or(0),
        to: q
            .to
            .as_deref()
            .map(|v| parse_time("to", v, tz, true))
            .transpose()?,
        kinds: kinds(q.kind.as_deref(), q.kinds.as_deref())?,
        openid: q.openid.filter(|o| !o.is_empty()),
    };
    let limit = page_limit(q.limit.as_deref())?;
    let platform = s.platform.clone();
    let page = blocking(move || {
        platform
            .events
            .list(&account, &filter, q.cursor.as_deref(), limit)
    })
    .await?;
    Ok(Json(page))
}

#[derive(Deserialize)]
pub struct DailyQuery {
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    kinds: Option<String>,
}

/// `GET /api/v1/accounts/{account}/events/daily?from=&to=&kinds=`: counts per kind for each
/// calendar day `from..=to` in the account's timezone (default: the last 7 days up to today);
/// `counts.plugin` and `detail.plugin` (by full plugin event kind) count plugin events,
/// `detail.http_outbound` outbound requests by host. `kinds` as for the listing.
pub async fn daily(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<DailyQuery>,
) -> ApiResult<impl IntoResponse> {
    let acc = s.platform.accounts.get(&account)?;
    let tz = parse_timezone(&acc.timezone)?;
    let today = local_date(tz, s.platform.clock.now_ms());
    let to =
        q.to.as_deref()
            .map(|v| parse_day("to", v, tz))
            .transpose()?
            .unwrap_or(today);
    let from = match q.from.as_deref() {
        Some(v) => parse_day("from", v, tz)?,
        None => to.checked_sub_days(chrono::Days::new(6)).unwrap_or(to),
    };
    let selectors = kinds(q.kind.as_deref(), q.kinds.as_deref())?;
    let platform = s.platform.clone();
    let id = account.clone();
    let days = blocking(move || platform.events.daily(&id, tz, from, to, &selectors)).await?;
    Ok(Json(json!({
        "account": account,
        "timezone": acc.timezone,
        "from": from.format("%Y-%m-%d").to_string(),
        "to": to.format("%Y-%m-%d").to_string(),
        "days": days,
    })))
}

pub async fn get_retention(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    Ok(Json(s.platform.events.retention(&account)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Days to keep; `null` returns the account to the host default.
    days: Option<u32>,
}

/// `PUT …/events/retention` with `{"days": N}` or `{"days": null}`.
pub async fn set_retention(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<RetentionBody>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let r = s.platform.events.set_retention(&account, body.days).await?;
    Ok(Json(r))
}
