//! Admin REST handlers: accounts, plugins, installations, followers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiJson, ApiMultipart, ApiPath, ApiQuery, ApiResult, multipart_error};
use crate::accounts::{AccountInfo, NewAccount};
use crate::error::PlazaError;
use crate::plugins::grants::{Capability, InstallationGrant};
use crate::plugins::manifest::MAX_MANIFEST_BYTES;
use crate::plugins::registry::PluginInfo;
use crate::plugins::{InstallRequest, InstallationUpdate};
use crate::runtime;

pub async fn system(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let stats = &s.platform.plugins.registry.stats;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "api_versions": runtime::supported_versions().iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        "plugins_loaded": s.platform.plugins.registry.list().len(),
        "components_compiled": stats.compiled.load(std::sync::atomic::Ordering::Relaxed),
        "components_from_cache": stats.cache_hits.load(std::sync::atomic::Ordering::Relaxed),
        "problems": s.platform.problems(),
    })))
}

/// `DELETE /system/problems/{id}`: removes a stored record that was set aside at start because
/// it no longer decodes.
pub async fn remove_problem(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let removed = s.platform.remove_problem_record(&id).await?;
    Ok(Json(json!({ "removed": removed })))
}

/// Lists the accounts the caller covers: every account for admins, a scoped token's own
/// accounts otherwise (filtered here rather than refused, so one console works for every role).
pub async fn list_accounts(
    State(s): State<AppState>,
    principal: Option<axum::Extension<super::authz::Principal>>,
) -> ApiResult<impl IntoResponse> {
    let accounts: Vec<AccountInfo> = s
        .platform
        .accounts
        .list()?
        .iter()
        .filter(|a| principal.as_ref().is_none_or(|p| p.covers(&a.id)))
        .map(AccountInfo::from)
        .collect();
    Ok(Json(json!({ "accounts": accounts })))
}

/// Creates an account; the answer carries its ingress key, shown this once.
pub async fn create_account(
    State(s): State<AppState>,
    ApiJson(new): ApiJson<NewAccount>,
) -> ApiResult<impl IntoResponse> {
    let created = s
        .platform
        .accounts
        .create(new, s.platform.clock.now_ms())?
        .durable()
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn get_account(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(AccountInfo::from(&s.platform.accounts.get(&account)?)))
}

/// `POST /accounts/{a}/ingress-key`: replaces the account's ingress key; the new key is in the
/// answer, this once (the old one stops working at once).
pub async fn rotate_ingress_key(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let key = s
        .platform
        .accounts
        .rotate_ingress_key(&account)?
        .durable()
        .await?;
    Ok(Json(json!({ "account": account, "ingress_key": key })))
}

pub async fn list_plugins(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let plugins: Vec<PluginInfo> = s
        .platform
        .plugins
        .registry
        .list()
        .iter()
        .map(|p| PluginInfo::from(&**p))
        .collect();
    Ok(Json(json!({ "plugins": plugins })))
}

pub async fn plugin_versions(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let versions: Vec<PluginInfo> = s
        .platform
        .plugins
        .registry
        .versions(&name)
        .iter()
        .map(|p| PluginInfo::from(&**p))
        .collect();
    if versions.is_empty() {
        return Err(PlazaError::not_found(format!("plugin {name:?}")).into());
    }
    Ok(Json(json!({ "versions": versions })))
}

/// `multipart/form-data` with a `manifest` part (plugin.toml text) and a `wasm` part (component).
/// A body past the route's limit is 413 `too_large`, as is a manifest part past its own bound
/// (refused as soon as it is crossed, not after buffering the rest).
pub async fn upload_plugin(
    State(s): State<AppState>,
    ApiMultipart(mut form): ApiMultipart,
) -> ApiResult<impl IntoResponse> {
    let (mut manifest, mut wasm) = (None, None);
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("manifest") => {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if text.len() + chunk.len() > MAX_MANIFEST_BYTES {
                        return Err(PlazaError::TooLarge(format!(
                            "upload: the manifest part exceeds {MAX_MANIFEST_BYTES} bytes"
                        ))
                        .into());
                    }
                    text.extend_from_slice(&chunk);
                }
                manifest = Some(String::from_utf8(text).map_err(|_| {
                    PlazaError::invalid("upload: the manifest part is not UTF-8 text")
                })?);
            }
            Some("wasm") => wasm = Some(field.bytes().await.map_err(multipart_error)?),
            other => {
                return Err(PlazaError::invalid(format!(
                    "upload: unexpected part {other:?}; send `manifest` and `wasm`"
                ))
                .into());
            }
        }
    }
    let manifest = manifest
        .ok_or_else(|| PlazaError::invalid("upload: missing part `manifest` (plugin.toml)"))?;
    let wasm =
        wasm.ok_or_else(|| PlazaError::invalid("upload: missing part `wasm` (the component)"))?;
    let platform = s.platform.clone();
    let now = platform.clock.now_ms();
    // Compiling a component is CPU-bound work of up to seconds: keep it off the async workers.
    let plugin = tokio::task::spawn_blocking(move || {
        platform
            .plugins
            .registry
            .register(&manifest, &wasm, false, now)
    })
    .await
    .map_err(|e| PlazaError::internal(format!("compile task failed: {e}")))??
    .durable()
    .await?;
    Ok((StatusCode::CREATED, Json(PluginInfo::from(&*plugin))))
}

pub async fn list_installations(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let mut installations = Vec::new();
    for inst in s.platform.plugins.installations.list(&account)? {
        let mut v = serde_json::to_value(&inst).map_err(PlazaError::internal)?;
        // The pages this version serves for operators (the console links them).
        if let Some(plugin) = s.platform.plugins.registry.get(&inst.plugin, &inst.version) {
            v["operator_pages"] = json!(plugin.manifest.operator_pages);
        }
        installations.push(v);
    }
    Ok(Json(json!({ "installations": installations })))
}

pub async fn install(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(req): ApiJson<InstallRequest>,
) -> ApiResult<impl IntoResponse> {
    let inst = s.platform.install_plugin(&account, req).await?;
    let ungranted = match s.platform.plugins.registry.get(&inst.plugin, &inst.version) {
        Some(plugin) => ungranted(&plugin.manifest.capabilities, &inst.grants),
        None => Vec::new(),
    };
    let mut body = serde_json::to_value(&inst).map_err(PlazaError::internal)?;
    body["ungranted"] = json!(ungranted);
    Ok((StatusCode::CREATED, Json(body)))
}

/// What the manifest requests that the installation was not granted: the calls that will fail
/// with `permission_denied` until an operator grants them.
fn ungranted(requested: &[Capability], granted: &InstallationGrant) -> Vec<String> {
    requested
        .iter()
        .filter(|c| !granted.allows(c))
        .map(ToString::to_string)
        .collect()
}

pub async fn get_installation(
    State(s): State<AppState>,
    ApiPath((account, plugin)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        s.platform.plugins.installations.get(&account, &plugin)?,
    ))
}

pub async fn update_installation(
    State(s): State<AppState>,
    ApiPath((account, plugin)): ApiPath<(String, String)>,
    ApiJson(upd): ApiJson<InstallationUpdate>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        s.platform
            .update_installation(&account, &plugin, upd)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct UninstallQuery {
    #[serde(default)]
    purge: bool,
}

pub async fn uninstall(
    State(s): State<AppState>,
    ApiPath((account, plugin)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<UninstallQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform
        .uninstall_plugin(&account, &plugin, q.purge)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn installation_errors(
    State(s): State<AppState>,
    ApiPath((account, plugin)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.plugins.installations.get(&account, &plugin)?;
    Ok(Json(
        json!({ "errors": s.platform.plugins.installations.errors(&account, &plugin)? }),
    ))
}

#[derive(Deserialize)]
pub struct PageQuery {
    /// A segment expression (see `accounts::segments`); absent = every follower.
    segment: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /accounts/{a}/followers?segment=…&cursor=…&limit=…`, in openid order.
pub async fn list_followers(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<impl IntoResponse> {
    let acc = s.platform.accounts.get(&account)?;
    let segment = q
        .segment
        .as_deref()
        .map(|e| crate::accounts::segments::Segment::parse(e, &acc.timezone))
        .transpose()?;
    let platform = s.platform.clone();
    let now = platform.clock.now_ms();
    let (items, next) = tokio::task::spawn_blocking(move || {
        platform.followers.list_matching(
            &acc.id,
            segment.as_ref(),
            q.cursor.as_deref(),
            q.limit.unwrap_or(100).clamp(1, 1000),
            now,
        )
    })
    .await
    .map_err(|e| PlazaError::internal(format!("listing task failed: {e}")))??;
    Ok(Json(json!({ "followers": items, "next_cursor": next })))
}

pub async fn get_follower(
    State(s): State<AppState>,
    ApiPath((account, openid)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.platform.followers.get(&account, &openid)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ungranted_lists_requested_capabilities_the_grant_does_not_allow() {
        let requested = [
            Capability::Storage,
            Capability::FollowersRead,
            Capability::TopicSubscribe("shop.*".into()),
            Capability::HttpRoutes,
        ];
        let granted = InstallationGrant(
            [Capability::Storage, Capability::FollowersWrite]
                .into_iter()
                .collect(),
        );
        // followers.write implies followers.read, so only the other two are missing.
        assert_eq!(
            ungranted(&requested, &granted),
            ["topics.subscribe:shop.*", "http.routes"]
        );
        let all = InstallationGrant(requested.iter().cloned().collect());
        assert!(ungranted(&requested, &all).is_empty());
    }
}
