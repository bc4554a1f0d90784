//! Admin routes of follower web identity: rotating an account's link signing key.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::json;

use super::AppState;
use super::error::{ApiPath, ApiResult};
use crate::links::KEY_GRACE_MS;

pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new().route("/accounts/{account}/link-key/rotate", post(rotate))
}

/// `POST /accounts/{a}/link-key/rotate`: makes a new key sign the account's follower links. The
/// previous key keeps verifying the links already sent for `grace_ms` (the longest a link
/// lives). Answers key ids only, never a key.
async fn rotate(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let key_id = s.platform.rotate_link_key(&account).await?;
    let live = s
        .platform
        .links
        .live_key_ids(&account, s.platform.clock.now_ms())?;
    Ok(Json(json!({
        "account": account,
        "key_id": key_id,
        "live_key_ids": live,
        "grace_ms": KEY_GRACE_MS,
    })))
}
