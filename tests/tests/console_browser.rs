//! The web console in a real headless Chromium (Playwright for Python), against the real binary
//! with `--demo`: sign-in, the schema-generated configuration form and its field errors, the
//! follower simulator's live replies, the language switch. Screenshots are saved in
//! `<target>/console-screenshots/` (CI keeps them as artifacts).

use std::path::Path;

use plaza_tests::browser::{CHROMIUM_ARGS, chromium};
use plaza_tests::{Server, TOKEN, data_dir, plaza_bin, python};

#[test]
fn an_operator_configures_auto_reply_and_sees_the_reply_in_the_simulator() {
    let chromium = chromium();
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, true);
    let shots = plaza_bin()
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .join("console-screenshots");
    let shots = shots.to_string_lossy().into_owned();
    let chromium = chromium.to_string_lossy().into_owned();
    let mut args = vec![
        server.base.as_str(),
        TOKEN,
        shots.as_str(),
        chromium.as_str(),
    ];
    args.extend_from_slice(CHROMIUM_ARGS);
    let out = python::run_script("console_e2e.py", &args, &[]);
    assert!(out.contains("ok"), "{out}");
}
