//! Plugin call cost: a fresh instance + `on-message` of auto-reply (the path every follower
//! message takes) built against API 0.2 and, side by side, the same plugin built against 0.1
//! (the frozen fixture in `tests/fixtures/v0.1/`, served through the 0.1 boundary); the same call
//! on a warm instance; and the whole in-process inbound pipeline.
//!
//! Run: `cargo bench -p plaza-host --bench runtime`. Results are recorded in BENCHMARKS.md.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use plaza_host::accounts::{AccountKind, NewAccount};
use plaza_host::channels::{Inbound, InboundKind};
use plaza_host::plugin_api as api;
use plaza_host::plugins::InstallRequest;
use plaza_host::plugins::grants::Capability;
use plaza_host::runtime::{Invocation, Outcome};
use plaza_host::{Platform, PlatformOptions, demo};
use serde_json::json;

fn setup(rt: &tokio::runtime::Runtime) -> (tempfile::TempDir, Arc<Platform>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = Platform::open(PlatformOptions::new(dir.path().join("data"))).expect("platform");
    rt.block_on(demo::register_bundled(&platform))
        .expect("bundled plugins");
    let account = platform
        .accounts
        .create(
            NewAccount {
                id: "bench".into(),
                name: None,
                kind: AccountKind::Service,
                verified: true,
                timezone: None,
            },
            0,
        )
        .expect("account");
    rt.block_on(account.durable()).expect("account");
    let config = json!({
        "rules": [
            { "keyword": "price", "match": "contains", "reply": "See the menu." },
            { "keyword": "hours", "match": "exact", "reply": "9 to 5." },
            { "keyword": "hello", "match": "exact", "reply": "Hi there!" }
        ],
        "default_reply": "Got it."
    });
    rt.block_on(platform.install_plugin(
        "bench",
        InstallRequest {
            plugin: "auto-reply".into(),
            config: Some(config.clone()),
            grants: vec![Capability::Storage],
            ..Default::default()
        },
    ))
    .expect("install");
    // The same plugin as built against API 0.1, before 0.2 existed.
    let fixtures =
        std::path::Path::new(plaza_host::bundled::WORKSPACE_DIR).join("tests/fixtures/v0.1");
    let manifest = std::fs::read_to_string(fixtures.join("auto-reply.toml"))
        .expect("0.1 manifest")
        .replace("name = \"auto-reply\"", "name = \"auto-reply-v01\"");
    let wasm = std::fs::read(fixtures.join("auto_reply.wasm")).expect("0.1 component");
    let registered = platform
        .plugins
        .registry
        .register(&manifest, &wasm, false, 0)
        .expect("register 0.1");
    rt.block_on(registered.durable()).expect("register 0.1");
    rt.block_on(platform.install_plugin(
        "bench",
        InstallRequest {
            plugin: "auto-reply-v01".into(),
            config: Some(config),
            grants: vec![Capability::Storage],
            priority: Some(-1),
            ..Default::default()
        },
    ))
    .expect("install 0.1");
    (dir, platform)
}

fn message(i: u64) -> api::InboundMessage {
    api::InboundMessage {
        msg_id: i.to_string(),
        from: "o-bench".into(),
        at: 0,
        body: api::InboundBody::Text("hello".into()),
    }
}

fn expect_reply(outcome: Result<Outcome, plaza_host::runtime::CallFailure>) {
    match outcome {
        Ok(Outcome::Reply(Some(api::Content::Text { content: t }))) if t == "Hi there!" => {}
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let (_dir, platform) = setup(&rt);
    let active = platform
        .plugins
        .find_active("bench", "auto-reply")
        .expect("active");

    c.bench_function("fresh_instance_on_message_auto_reply", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let msg = message(i);
            expect_reply(rt.block_on(platform.call_plugin(
                &active,
                Some("o-bench".into()),
                false,
                |ctx| Invocation::Message(ctx, msg),
            )));
        })
    });

    let old = platform
        .plugins
        .find_active("bench", "auto-reply-v01")
        .expect("active 0.1");
    c.bench_function("fresh_instance_on_message_auto_reply_api_0_1", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let msg = message(i);
            expect_reply(rt.block_on(platform.call_plugin(
                &old,
                Some("o-bench".into()),
                false,
                |ctx| Invocation::Message(ctx, msg),
            )));
        })
    });

    let mut warm = rt
        .block_on(platform.warm_instance(&active, Some("o-bench".into())))
        .expect("warm instance");
    let ctx = plaza_host::plugins::call_context(&active, Some("o-bench".into()), false);
    c.bench_function("warm_instance_on_message_auto_reply", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            expect_reply(rt.block_on(warm.invoke(Invocation::Message(ctx.clone(), message(i)))));
        })
    });

    // Criterion calls the closure several times (warm-up, measurement): the message ids must stay
    // unique across those calls, or later ones would measure de-duplication hits.
    let mut i = 0u64;
    c.bench_function("inbound_pipeline_durable_sequential", |b| {
        b.iter(|| {
            i += 1;
            let inbound = Inbound {
                dedup_key: Some(format!("msg:{i}")),
                from: "o-bench".into(),
                at: 0,
                kind: InboundKind::Message {
                    msg_id: i.to_string(),
                    body: api::InboundBody::Text("hello".into()),
                },
            };
            let outcome = rt
                .block_on(platform.handle_inbound("bench", inbound))
                .expect("inbound");
            assert!(outcome.reply.is_some());
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(5));
    targets = calls
}
criterion_main!(benches);
