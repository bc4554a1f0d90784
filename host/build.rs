//! Builds the first-party plugins, the examples and the test fixtures to `wasm32-wasip2` and bundles
//! them into the host, so that `cargo build` alone yields a `plaza` that has its plugins.
//!
//! The nested cargo uses its own target directory (sharing the outer one would deadlock on its
//! lock) that lives beside the outer one and is shared by every profile, so the plugins are built
//! once, not once per profile. Host-only flags (`CARGO_ENCODED_RUSTFLAGS`, clippy's wrapper) are
//! dropped: they are not meant for the wasm build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WASM_TARGET: &str = "wasm32-wasip2";
/// (package, wasm file stem, manifest path relative to the workspace root, bundled into `plaza`).
const PLUGINS: &[(&str, &str, &str, bool)] = &[
    (
        "auto-reply",
        "auto_reply",
        "plugins/auto-reply/plugin.toml",
        true,
    ),
    (
        "membership",
        "membership",
        "plugins/membership/plugin.toml",
        true,
    ),
    (
        "analytics",
        "analytics",
        "plugins/analytics/plugin.toml",
        true,
    ),
    (
        "interactive",
        "interactive",
        "plugins/interactive/plugin.toml",
        true,
    ),
    (
        "moderation",
        "moderation",
        "plugins/moderation/plugin.toml",
        true,
    ),
    ("editor", "editor", "plugins/editor/plugin.toml", true),
    ("ad-slots", "ad_slots", "plugins/ad-slots/plugin.toml", true),
    ("shop", "shop", "plugins/shop/plugin.toml", true),
    (
        "competitor-analysis",
        "competitor_analysis",
        "plugins/competitor-analysis/plugin.toml",
        true,
    ),
    ("hello", "hello", "examples/hello/plugin.toml", true),
    ("probe", "probe", "tests/fixtures/probe/plugin.toml", false),
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace root")
        .to_path_buf();
    for dir in ["sdk", "plugins", "examples", "tests/fixtures", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_root = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target_root = if target_root.is_relative() {
        root.join(target_root)
    } else {
        target_root
    };
    let wasm_target_dir = target_root.join("plaza-wasm");

    ensure_wasm_target();

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--target-dir",
        ])
        .arg(&wasm_target_dir)
        // Components carry no debug info: a tenth of the size, so faster to compile and load.
        .args([
            "--config",
            "profile.release.debug=false",
            "--config",
            "profile.release.strip=\"debuginfo\"",
        ]);
    for (pkg, ..) in PLUGINS {
        cmd.args(["-p", pkg]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    // Keep the build script's stdout for cargo directives only.
    cmd.stdout(Stdio::from(std::io::stderr()));
    let status = cmd.status().expect("cannot run cargo for the wasm plugins");
    if !status.success() {
        panic!("building the wasm plugins failed (see the output above)");
    }

    let out_dir = wasm_target_dir.join(WASM_TARGET).join("release");
    let mut src = String::from(
        "/// Plugins compiled into the `plaza` binary.\npub const BUNDLED: &[BundledPlugin] = &[\n",
    );
    for (_, stem, manifest, bundled) in PLUGINS {
        let wasm = out_dir.join(format!("{stem}.wasm"));
        assert!(
            wasm.exists(),
            "expected {} after the wasm build",
            wasm.display()
        );
        if *bundled {
            src.push_str(&format!(
                "    BundledPlugin {{ manifest: include_str!({:?}), wasm: include_bytes!({:?}) }},\n",
                root.join(manifest).display().to_string(),
                wasm.display().to_string()
            ));
        }
    }
    src.push_str("];\n");
    src.push_str(&format!(
        "/// Where this build put every plugin component (fixtures included).\npub const WASM_DIR: &str = {:?};\n",
        out_dir.display().to_string()
    ));
    src.push_str(&format!(
        "/// The workspace this binary was built from.\npub const WORKSPACE_DIR: &str = {:?};\n",
        root.display().to_string()
    ));
    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bundled.rs");
    std::fs::write(&dest, src).expect("cannot write bundled.rs");
}

/// rustup installs the targets named in rust-toolchain.toml only when it installs the toolchain;
/// on a machine that already has the toolchain the target can be missing. Add it, or say exactly
/// what to run.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let has_target = |sysroot: &Path| sysroot.join("lib/rustlib").join(WASM_TARGET).exists();
    if sysroot.as_deref().is_some_and(has_target) {
        return;
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", WASM_TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        add.args(["--toolchain", &toolchain]);
    }
    println!(
        "cargo:warning=installing the {WASM_TARGET} target with rustup (needed to build the plugins)"
    );
    let ok = add
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        panic!(
            "the {WASM_TARGET} target is missing and `rustup target add {WASM_TARGET}` failed; run it by hand, then build again"
        );
    }
}
