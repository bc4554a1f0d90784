//! Template registry handlers: `/accounts/{a}/templates[/{id}[/preview]]`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiResult};
use crate::templates::{NewTemplate, TemplateUpdate};

/// Routes under `/api/v1`.
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route("/accounts/{account}/templates", get(list).post(create))
        .route(
            "/accounts/{account}/templates/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/accounts/{account}/templates/{id}/preview", post(preview))
}

async fn list(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let templates = s.platform.templates.list(&account)?;
    let active = templates.iter().filter(|t| t.active).count();
    Ok(Json(json!({
        "templates": templates,
        "active": active,
        "active_limit": crate::templates::MAX_ACTIVE_TEMPLATES,
    })))
}

async fn create(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(new): ApiJson<NewTemplate>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let t = s
        .platform
        .templates
        .create(&account, new, s.platform.clock.now_ms())?
        .durable()
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn show(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    Ok(Json(s.platform.templates.get(&account, &id)?))
}

async fn update(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
    ApiJson(upd): ApiJson<TemplateUpdate>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let t = s
        .platform
        .templates
        .update(&account, &id, upd, s.platform.clock.now_ms())?
        .durable()
        .await?;
    Ok(Json(t))
}

async fn remove(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    s.platform
        .templates
        .delete(&account, &id)?
        .durable()
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Preview {
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

/// `POST /accounts/{a}/templates/{id}/preview` `{"fields": {"name": "value", …}}` → `{"text"}`:
/// the message the fields would render to, with the same validation as a send (the account's
/// right to send template messages is not checked here).
async fn preview(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Preview>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let fields: Vec<(String, String)> = body.fields.into_iter().collect();
    let text = s.platform.templates.render(&account, &id, &fields)?;
    Ok(Json(json!({ "template": id, "text": text })))
}
