//! First start conveniences: the bundled plugins, and the `demo` account of `plaza serve --demo`.

use std::sync::Arc;

use serde_json::json;

use crate::accounts::{AccountKind, NewAccount};
use crate::bundled::BUNDLED;
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::plugins::InstallRequest;
use crate::plugins::grants::Capability;

pub const DEMO_ACCOUNT: &str = "demo";

/// Registers every plugin built into the binary (a no-op when already registered).
pub async fn register_bundled(platform: &Platform) -> Result<()> {
    let now = platform.clock.now_ms();
    for b in BUNDLED {
        platform
            .plugins
            .registry
            .register(b.manifest, b.wasm, true, now)?
            .durable()
            .await?;
    }
    Ok(())
}

/// The bundled feature plugins `plaza serve --demo` installs on the demo account, with their
/// priority (higher answers a message first; auto-reply, whose default reply answers every
/// message, stays at 0 so that keyword plugins and a developer server can come before it). Each gets every capability its manifest requests
/// except outbound HTTP (which needs a host the operator chooses) and its manifest's default
/// configuration, except where [`demo_config`] gives one that shows more.
const DEMO_PLUGINS: &[(&str, i32)] = &[
    ("moderation", 100),
    ("membership", 20),
    ("interactive", 15),
    ("shop", 10),
    ("editor", 5),
    ("auto-reply", 0),
    ("ad-slots", -5),
    ("analytics", -10),
    ("competitor-analysis", -15),
];

/// Creates account `demo` (service, verified) with the first-party feature plugins installed:
/// auto-reply answering a follow and `hello`, membership, interactive components, analytics,
/// moderation, the editor (with its welcome article), ad slots, the shop and competitor analysis. A plugin already installed (or removed by the operator after an earlier start) is
/// left as it is; one that is missing is installed, so an older demo data directory gains the
/// plugins bundled since.
pub async fn ensure_demo(platform: &Arc<Platform>) -> Result<()> {
    let created = platform.accounts.create(
        NewAccount {
            id: DEMO_ACCOUNT.into(),
            name: Some("Plaza Demo".into()),
            kind: AccountKind::Service,
            verified: true,
            timezone: None,
        },
        platform.clock.now_ms(),
    );
    match created {
        Ok(p) => {
            p.durable().await?;
        }
        Err(PlazaError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    for (plugin, priority) in DEMO_PLUGINS {
        if platform
            .plugins
            .installations
            .get(DEMO_ACCOUNT, plugin)
            .is_ok()
        {
            continue;
        }
        let Some(loaded) = platform.plugins.registry.latest(plugin) else {
            continue;
        };
        let grants = loaded
            .manifest
            .capabilities
            .iter()
            .filter(|c| !matches!(c, Capability::HttpOutbound(_)))
            .cloned()
            .collect();
        platform
            .install_plugin(
                DEMO_ACCOUNT,
                InstallRequest {
                    plugin: (*plugin).into(),
                    config: demo_config(plugin),
                    grants,
                    priority: Some(*priority),
                    ..Default::default()
                },
            )
            .await?;
    }
    Ok(())
}

/// A demo configuration that shows off a plugin better than its manifest's default.
fn demo_config(plugin: &str) -> Option<serde_json::Value> {
    match plugin {
        "auto-reply" => Some(json!({
            "rules": [
                { "keyword": "hello", "match": "contains", "reply": "Hello from Plaza! This reply came from the auto-reply plugin.", "priority": 10 },
                { "keyword": "help", "match": "exact", "reply": "Send hello, or anything else to see the default reply." }
            ],
            "follow_reply": "Welcome to the Plaza demo account! Send hello to say hi.",
            "default_reply": "Thanks for your message. Send hello or help."
        })),
        // Two lists an operator would keep: ads are masked, refund talk waits for a person.
        "moderation" => Some(json!({
            "lists": [
                { "name": "ads", "action": "mask", "words": ["spam", "加微信"] },
                { "name": "review", "action": "hold", "words": ["refund", "退款"] }
            ]
        })),
        // A merchant id for the payment notifications; the API key is set by an operator
        // (`PUT /p/demo/shop/api/pay/key`), never kept in a config.
        "shop" => Some(json!({
            "pay": { "appid": "wx8888888888888888", "mch_id": "1900000109" },
            "miniprogram_appid": "wx0123456789abcdef"
        })),
        // A funnel of the seed's user path: follow → read → menu click → purchase.
        "analytics" => Some(json!({
            "funnels": [{
                "id": "follow-to-buy",
                "name": "关注 → 阅读 → 菜单 → 购买",
                "window_hours": 168,
                "steps": [
                    { "kind": "follower_event", "sub_kind": "subscribe", "label": "关注 Follow" },
                    { "kind": "editor.article.read", "label": "阅读 Read" },
                    { "kind": "follower_event", "sub_kind": "click", "label": "菜单 Menu click" },
                    { "kind": "shop.order.paid", "label": "购买 Purchase" }
                ]
            }]
        })),
        _ => None,
    }
}
