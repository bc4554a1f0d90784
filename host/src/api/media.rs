//! Media over HTTP: the admin routes (upload, list, show, delete, quota) under `/api/v1`, and
//! the public `/media/{account}/{media_id}` that serves blobs to followers' browsers and players.
//!
//! The public route answers with headers that keep an uploaded file from ever acting as a page
//! on the host's origin: the stored (allow-listed) `Content-Type` with `nosniff`, a
//! `Content-Security-Policy` that forbids everything and sandboxes the document, and
//! `Content-Disposition: attachment` for anything that is not an image, audio or video.

use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiBytes, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::error::{ErrorBody, PlazaError};
use crate::media::content_type::{self, Disposition};
use crate::media::range::{self, RangeRequest};
use crate::media::{MAX_BLOB_BYTES, MediaMeta, Uploader};
use crate::platform::Platform;

/// Admin routes, under `/api/v1` (behind the admin token).
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route(
            "/accounts/{account}/media",
            post(upload)
                .layer(DefaultBodyLimit::max(MAX_BLOB_BYTES as usize))
                .get(list),
        )
        .route(
            "/accounts/{account}/media/quota",
            get(show_usage).put(set_quota),
        )
        .route(
            "/accounts/{account}/media/{media_id}",
            get(show).delete(remove),
        )
}

/// The public route (no credentials): `GET`/`HEAD /media/{account}/{media_id}`.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/media/{account}/{media_id}", get(serve))
}

/// A blob as the admin API shows it.
fn item(platform: &Platform, account: &str, m: &MediaMeta) -> Value {
    json!({
        "media_id": m.media_id,
        "url": crate::media::url(&platform.public_url(), account, &m.media_id),
        "content_type": m.content_type,
        "size": m.size,
        "created_at": m.created_at,
        "uploaded_by": m.uploaded_by,
    })
}

/// `POST /accounts/{a}/media`: the raw bytes as the body, their type as `Content-Type` →
/// 201 `{"media_id","url","content_type","size","created":true}`, or 200 with
/// `"created":false` when the account already had these bytes.
async fn upload(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let headers = request.headers();
    // Said before the body is read, and in words the generic body-limit refusal lacks.
    let declared_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared_len.filter(|l| *l > MAX_BLOB_BYTES) {
        return Err(PlazaError::TooLarge(format!(
            "media is {len} bytes; the limit per blob is {MAX_BLOB_BYTES} bytes (20 MiB)"
        ))
        .into());
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| {
            PlazaError::invalid(
                "send the file's bytes as the body with its Content-Type (e.g. image/png)",
            )
        })?;
    let ApiBytes(body) = ApiBytes::from_request(request, &s).await?;
    let stored = s
        .platform
        .media
        .upload(
            &account,
            body.to_vec(),
            &declared,
            Uploader::Operator,
            s.platform.clock.now_ms(),
        )
        .await?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "media_id": stored.media_id,
            "url": stored.url(&s.platform.public_url()),
            "content_type": stored.content_type,
            "size": stored.size,
            "created": stored.created,
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// The last media id of the previous page.
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /accounts/{a}/media?cursor=&limit=` → `{"media":[…], "next_cursor", "usage"}`, in
/// media-id order, 100 per page unless `limit` says otherwise (at most 1000).
async fn list(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let page = s
        .platform
        .media
        .list(&account, q.cursor.as_deref(), q.limit.unwrap_or(100))?;
    let next_cursor = page.next_cursor.clone();
    let media: Vec<Value> = page
        .values()
        .iter()
        .map(|m| item(&s.platform, &account, m))
        .collect();
    Ok(Json(json!({
        "media": media,
        "next_cursor": next_cursor,
        "usage": s.platform.media.usage(&account)?,
    })))
}

/// `GET /accounts/{a}/media/{id}`: one blob's metadata.
async fn show(
    State(s): State<AppState>,
    ApiPath((account, media_id)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let meta = s.platform.media.meta(&account, &media_id)?;
    Ok(Json(item(&s.platform, &account, &meta)))
}

/// `DELETE /accounts/{a}/media/{id}`: 204, or 404 when the account has no such blob.
async fn remove(
    State(s): State<AppState>,
    ApiPath((account, media_id)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let removed = s
        .platform
        .media
        .delete(&account, &media_id)?
        .durable()
        .await?;
    if !removed {
        return Err(
            PlazaError::not_found(format!("account {account:?} has no media {media_id}")).into(),
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /accounts/{a}/media/quota` → `{"bytes","blobs","quota_bytes"}`.
async fn show_usage(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    Ok(Json(s.platform.media.usage(&account)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaBody {
    /// Bytes, or `null` for the platform default.
    quota_bytes: Option<u64>,
}

/// `PUT /accounts/{a}/media/quota` `{"quota_bytes": n | null}` → the usage with the new quota.
async fn set_quota(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<QuotaBody>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    s.platform
        .media
        .set_quota(&account, body.quota_bytes)?
        .durable()
        .await?;
    Ok(Json(s.platform.media.usage(&account)?))
}

/// Content-addressed: the bytes behind a URL never change, so caches may keep them for a year.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// Nothing may load, run or be framed from a served blob, should a browser ever render it.
const CSP: &str = "default-src 'none'; sandbox";

/// `GET`/`HEAD /media/{account}/{media_id}`: the blob with its stored type, `ETag` (the media
/// id) and `If-None-Match` → 304, one byte range per request (206, or 416 outside the blob).
async fn serve(
    State(s): State<AppState>,
    ApiPath((account, media_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let meta = s.platform.media.meta(&account, &media_id)?;
    let etag = format!("\"{}\"", meta.media_id);
    let mut out = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    set(header::ETAG, &etag);
    set(header::CACHE_CONTROL, CACHE_CONTROL);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::ACCEPT_RANGES, "bytes");
    let header_str = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if header_str(header::IF_NONE_MATCH).is_some_and(|v| etag_matches(v, &meta.media_id)) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    set(header::CONTENT_TYPE, &meta.content_type);
    let disposition = match content_type::disposition(&meta.content_type) {
        Disposition::Inline => "inline",
        Disposition::Attachment => "attachment",
    };
    set(
        header::CONTENT_DISPOSITION,
        &format!(
            "{disposition}; filename=\"{}.{}\"",
            meta.media_id,
            content_type::extension(&meta.content_type)
        ),
    );
    // A range applies only to the representation the client already has part of.
    let range_ok = header_str(header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let wanted = if range_ok {
        range::parse(header_str(header::RANGE), meta.size)
    } else {
        RangeRequest::Full
    };
    let (status, bytes) = match wanted {
        RangeRequest::Full => (StatusCode::OK, 0..meta.size),
        RangeRequest::Partial(r) => {
            set(
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{}", r.start, r.end - 1, meta.size),
            );
            (StatusCode::PARTIAL_CONTENT, r)
        }
        RangeRequest::Unsatisfiable => {
            set(header::CONTENT_RANGE, &format!("bytes */{}", meta.size));
            // The platform's error shape, with the status this case has of its own.
            let e = PlazaError::invalid(format!(
                "range not satisfiable: {} has {} bytes",
                meta.media_id, meta.size
            ));
            out.remove(header::CONTENT_TYPE);
            out.remove(header::CONTENT_DISPOSITION);
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                out,
                Json(ErrorBody::from(&e)),
            )
                .into_response());
        }
    };
    set(
        header::CONTENT_LENGTH,
        &(bytes.end - bytes.start).to_string(),
    );
    let body = stream(s.platform.clone(), account, meta, bytes);
    Ok((status, out, body).into_response())
}

/// Whether an `If-None-Match` value names this blob (`*`, or its ETag, weak or strong).
fn etag_matches(value: &str, media_id: &str) -> bool {
    value.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == media_id
    })
}

/// The body of `range`, read one chunk at a time as the client takes it: a response holds at
/// most a chunk in memory, and a `HEAD` (whose body is dropped unread) reads none.
fn stream(platform: Arc<Platform>, account: String, meta: MediaMeta, range: Range<u64>) -> Body {
    let chunk = u64::from(meta.chunk_bytes.max(1));
    let end = range.end;
    let pieces = futures_util::stream::unfold(Some(range.start), move |next| {
        let platform = platform.clone();
        let account = account.clone();
        let media_id = meta.media_id.clone();
        async move {
            let start = next.filter(|s| *s < end)?;
            let stop = ((start / chunk + 1) * chunk).min(end);
            match platform.media.read_range(&account, &media_id, start..stop) {
                Ok(bytes) => Some((Ok(bytes), Some(stop))),
                // Headers are gone already: failing the body aborts the response, so the client
                // sees a truncated transfer rather than wrong bytes.
                Err(e) => {
                    tracing::error!(account = %account, media = %media_id, error = %e,
                        "serving media failed mid-response");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    Body::from_stream(pieces)
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn if_none_match_accepts_the_tag_weak_or_strong_in_a_list_or_star() {
        let id = "ab".repeat(32);
        assert!(etag_matches(&format!("\"{id}\""), &id));
        assert!(etag_matches(&format!("W/\"{id}\""), &id));
        assert!(etag_matches(&format!("\"x\", \"{id}\""), &id));
        assert!(etag_matches("*", &id));
        assert!(!etag_matches("\"x\"", &id));
        assert!(!etag_matches("", &id));
    }
}
