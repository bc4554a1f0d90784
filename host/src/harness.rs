//! An in-process Plaza for benchmarks, examples and the host's own integration tests: a platform
//! with the bundled plugins registered, accounts, a bundled plugin installed with everything its
//! manifest requests, and calls to its HTTP routes and `on-query` as the host would make them.
//!
//! Why in the library rather than in each bench: every benchmark of a feature plugin needs the
//! same five steps, and copies drift (one forgets to register the bundled plugins, another grants
//! less than the demo does). Nothing here is reachable from the server: it only builds on the
//! public [`Platform`] API.

use std::sync::Arc;

use serde_json::Value;

use crate::accounts::{AccountKind, NewAccount};
use crate::demo;
use crate::error::{PlazaError, Result};
use crate::platform::{Platform, PlatformOptions};
use crate::plugin_api as api;
use crate::plugins::InstallRequest;
use crate::plugins::query::Asker;
use crate::runtime::{Invocation, Outcome};

/// Opens a platform on `opts` with every bundled plugin registered.
pub async fn platform(opts: PlatformOptions) -> Result<Arc<Platform>> {
    let platform = Platform::open(opts)?;
    demo::register_bundled(&platform).await?;
    Ok(platform)
}

/// Creates a verified account of `kind` (durably), in `timezone` when given.
pub async fn account(
    platform: &Platform,
    id: &str,
    kind: AccountKind,
    timezone: Option<&str>,
) -> Result<()> {
    let new = NewAccount {
        id: id.into(),
        name: None,
        kind,
        verified: true,
        timezone: timezone.map(str::to_string),
    };
    platform
        .accounts
        .create(new, platform.clock.now_ms())?
        .durable()
        .await?;
    Ok(())
}

/// Installs the bundled `plugin` on `account`, granted every capability its manifest requests,
/// with `config` (the manifest's default when `None`).
pub async fn install_bundled(
    platform: &Arc<Platform>,
    account: &str,
    plugin: &str,
    config: Option<Value>,
) -> Result<()> {
    let loaded = platform
        .plugins
        .registry
        .latest(plugin)
        .ok_or_else(|| PlazaError::not_found(format!("plugin {plugin} is not registered")))?;
    platform
        .install_plugin(
            account,
            InstallRequest {
                plugin: plugin.into(),
                grants: loaded.manifest.capabilities.clone(),
                config,
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}

/// Who calls a plugin route: what the host would have verified before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// Nobody in particular (a public page, a webhook).
    Public,
    /// A follower through a signed link.
    Follower(&'a str),
    /// An operator token holder.
    Operator,
}

impl<'a> Caller<'a> {
    /// The caller of a request made for `follower` (if any), else by an operator if `operator`.
    pub fn of(follower: Option<&'a str>, operator: bool) -> Self {
        match (follower, operator) {
            (Some(openid), _) => Caller::Follower(openid),
            (None, true) => Caller::Operator,
            (None, false) => Caller::Public,
        }
    }
}

/// An HTTP request to `plugin`'s routes on `account`; `path` may carry a `?query`. Answers the
/// status and the body.
pub async fn plugin_http(
    platform: &Arc<Platform>,
    account: &str,
    plugin: &str,
    caller: Caller<'_>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>)> {
    let active = platform
        .plugins
        .find_active(account, plugin)
        .ok_or_else(|| PlazaError::not_found(format!("{plugin} is not active on {account}")))?;
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let req = api::HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: vec![api::Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body: body.to_vec(),
    };
    let (follower, operator) = match caller {
        Caller::Public => (None, false),
        Caller::Follower(openid) => (Some(openid.to_string()), false),
        Caller::Operator => (None, true),
    };
    match platform
        .call_plugin(&active, follower, operator, |ctx| {
            Invocation::Http(ctx, req)
        })
        .await
    {
        Ok(Outcome::Http(r)) => Ok((r.status, r.body)),
        Ok(other) => Err(PlazaError::internal(format!("on-http answered {other:?}"))),
        Err(failure) => Err(PlazaError::internal(format!(
            "{plugin}'s on-http failed: {failure:?}"
        ))),
    }
}

/// [`plugin_http`] with a JSON body and a JSON answer (`Value::Null` for an empty body).
pub async fn plugin_json(
    platform: &Arc<Platform>,
    account: &str,
    plugin: &str,
    caller: Caller<'_>,
    method: &str,
    path: &str,
    body: &Value,
) -> Result<(u16, Value)> {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, answer) =
        plugin_http(platform, account, plugin, caller, method, path, &body).await?;
    let answer = if answer.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&answer).map_err(|e| {
            PlazaError::internal(format!(
                "{method} {path} answered {status} with a body that is not JSON ({e}): {}",
                String::from_utf8_lossy(&answer)
            ))
        })?
    };
    Ok((status, answer))
}

/// Asks `target`'s `on-query(name, payload)` on `account` as plugin `asker` would (the asker
/// need not be installed: the harness plays it), with `follower` as the call's follower.
pub async fn plugin_query(
    platform: &Arc<Platform>,
    account: &str,
    asker: &str,
    follower: Option<&str>,
    target: &str,
    name: &str,
    payload: &Value,
) -> Result<Value> {
    let answer = platform
        .query_plugin(
            Asker {
                account: account.into(),
                chain: vec![asker.into()],
                follower: follower.map(str::to_string),
                remaining_ms: 30_000,
            },
            target,
            name,
            payload.to_string().into_bytes(),
        )
        .await?;
    serde_json::from_slice(&answer)
        .map_err(|e| PlazaError::internal(format!("{target} answered {name} with non-JSON: {e}")))
}
