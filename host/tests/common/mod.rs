//! What the host's integration tests share: a platform on a fresh data directory driven by an
//! injected clock, accounts, and the real probe component registered and installed.
//!
//! Each test file is its own crate and uses only part of this.
#![allow(dead_code)]

use std::sync::Arc;

use plaza_host::accounts::{AccountKind, NewAccount};
use plaza_host::platform::ManualClock;
use plaza_host::plugins::InstallRequest;
use plaza_host::plugins::grants::Capability;
use plaza_host::{Platform, PlatformOptions};

/// Opens a platform in a new temporary directory on `clock`, compiled components cached across
/// tests; `configure` adjusts the options.
/// The directory lives as long as the returned guard.
pub fn platform(
    clock: Arc<ManualClock>,
    configure: impl FnOnce(&mut PlatformOptions),
) -> (tempfile::TempDir, Arc<Platform>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = PlatformOptions::new(dir.path().join("data"));
    opts.clock = clock;
    // Every test compiles the same components: one cache for all of them (as `plaza serve
    // --compiled-cache` shares one between data directories) saves seconds per platform.
    opts.compiled_cache_dir =
        Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled"));
    configure(&mut opts);
    let p = Platform::open(opts).expect("platform");
    (dir, p)
}

/// Creates a verified service account, durably.
pub async fn service_account(p: &Platform, id: &str, timezone: Option<&str>, at: u64) {
    let new = NewAccount {
        id: id.into(),
        name: None,
        kind: AccountKind::Service,
        verified: true,
        timezone: timezone.map(str::to_string),
    };
    p.accounts
        .create(new, at)
        .expect("account")
        .durable()
        .await
        .expect("account");
}

/// The start of a feature plugin's clock test: a platform on a clock at `start`, the verified
/// service account `account` in Asia/Shanghai, and every bundled plugin registered (none
/// installed yet).
pub async fn bundled_in_shanghai(
    account: &str,
    start: u64,
) -> (Arc<ManualClock>, tempfile::TempDir, Arc<Platform>) {
    let clock = Arc::new(ManualClock::new(start));
    let (dir, p) = platform(clock.clone(), |_| {});
    service_account(&p, account, Some("Asia/Shanghai"), start).await;
    plaza_host::demo::register_bundled(&p)
        .await
        .expect("bundled plugins");
    (clock, dir, p)
}

/// The probe component (`tests/fixtures/probe`), as the build bundles it.
pub fn probe_wasm() -> Vec<u8> {
    std::fs::read(format!("{}/probe.wasm", plaza_host::bundled::WASM_DIR)).expect("probe component")
}

/// Registers the probe under `manifest` (see [`probe_manifest`]), durably.
pub async fn register_probe(p: &Platform, manifest: &str, at: u64) {
    p.plugins
        .registry
        .register(manifest, &probe_wasm(), false, at)
        .expect("register")
        .durable()
        .await
        .expect("register");
}

/// The manifest of probe 0.1.0 requesting `capabilities`.
pub fn probe_manifest(capabilities: &[Capability]) -> String {
    let requested: Vec<String> = capabilities
        .iter()
        .map(|c| format!("{:?}", c.to_string()))
        .collect();
    format!(
        "name = \"probe\"\nversion = \"0.1.0\"\napi = \"^0.2\"\ncapabilities = [{}]\n",
        requested.join(", ")
    )
}

/// Registers the probe and installs it on `account`, granted exactly what it requests.
pub async fn install_probe(p: &Arc<Platform>, account: &str, grants: &[Capability], at: u64) {
    register_probe(p, &probe_manifest(grants), at).await;
    p.install_plugin(
        account,
        InstallRequest {
            plugin: "probe".into(),
            grants: grants.to_vec(),
            ..Default::default()
        },
    )
    .await
    .expect("install");
}

/// Milliseconds since the epoch of a wall-clock time in Asia/Shanghai (the clock tests' account
/// timezone).
pub fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> u64 {
    use chrono::TimeZone;
    let t = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("a Shanghai time");
    u64::try_from(t.timestamp_millis()).expect("after the epoch")
}
