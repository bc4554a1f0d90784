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

/// Creates account `demo` (service, verified) with auto-reply answering a follow and `hello`.
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
    if platform
        .plugins
        .installations
        .get(DEMO_ACCOUNT, "auto-reply")
        .is_ok()
    {
        return Ok(());
    }
    let config = json!({
        "rules": [
            { "keyword": "hello", "match": "contains", "reply": "Hello from Plaza! This reply came from the auto-reply plugin.", "priority": 10 },
            { "keyword": "help", "match": "exact", "reply": "Send hello, or anything else to see the default reply." }
        ],
        "follow_reply": "Welcome to the Plaza demo account! Send hello to say hi.",
        "default_reply": "Thanks for your message. Send hello or help."
    });
    platform
        .install_plugin(
            DEMO_ACCOUNT,
            InstallRequest {
                plugin: "auto-reply".into(),
                config: Some(config),
                grants: vec![Capability::Storage, Capability::HttpRoutes],
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}
