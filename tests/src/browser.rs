//! A real browser for the console's end-to-end test: Debian's Chromium, driven headless by
//! Playwright for Python (installed by [`crate::python::python`]).
//!
//! The test suite must run on a fresh machine, so when `/usr/bin/chromium` is missing the first
//! test that needs it installs the distribution's package (and a CJK font, so that screenshots
//! of the Chinese console are legible); a file lock makes concurrent test
//! binaries wait for that one install instead of racing apt.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian installs Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The flags the tests start Chromium with: headless, no sandbox (tests may run as root in a
/// container), nothing that phones home or updates itself during a run.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The Chromium executable, installed with apt on first use; panics with what to do when it is
/// missing and cannot be installed.
pub fn chromium() -> PathBuf {
    let path = Path::new(CHROMIUM);
    if path.exists() {
        return path.to_path_buf();
    }
    let lock_path = std::env::temp_dir().join("plaza-tests-chromium.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .expect("chromium lock file");
    lock.lock().expect("lock chromium install");
    // Another test binary may have installed it while this one waited for the lock.
    if !path.exists() {
        let out = Command::new("sh")
            .args([
                "-c",
                "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei",
            ])
            .output();
        let _ = lock.unlock();
        match out {
            Ok(o) if o.status.success() && path.exists() => {}
            Ok(o) => panic!(
                "the console's browser test needs Chromium at {CHROMIUM} and could not install \
                 it with apt-get ({}); install the `chromium` package by hand:\n{}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!(
                "the console's browser test needs Chromium at {CHROMIUM}; running apt-get failed \
                 ({e}); install the `chromium` package by hand"
            ),
        }
    } else {
        let _ = lock.unlock();
    }
    path.to_path_buf()
}
