//! Online backup and restore (issue 6 §3), through the real binary: a backup taken while writers
//! keep writing holds every write acknowledged before it began, restores into a new data
//! directory, and a server started there works; a damaged backup file is refused and writes
//! nothing; a data directory in use is replaced only with `--force`, and its contents are kept
//! aside; the backup schedule's flags are checked.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use plaza_tests::*;
use serde_json::{Value, json};

/// Writes acknowledged before the backup starts: enough that the writers are in full swing.
const WRITES_BEFORE_BACKUP: usize = 100;
const WRITERS: usize = 4;

/// Tells the writers to stop when dropped, so that they stop however the test ends (a panic
/// included: the scope below cannot return while they still write).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// An account `shop` with the probe installed and granted storage. The probe's deadline is long:
/// these writes race a backup on a loaded machine, and a timed-out write is only noise here.
fn shop(server: &Server) {
    server.create_account("shop", "service", true);
    let up = server.upload(
        &probe_manifest("probe", &["storage"], 32, 10_000),
        &probe_wasm(),
    );
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install("shop", json!({ "plugin": "probe", "grants": ["storage"] }));
    assert_eq!(inst.status, 201, "{inst:?}");
}

/// `plaza backup --out FILE` against `server`; returns the command's JSON answer.
fn backup(server: &Server, out: &Path) -> Value {
    let (code, stdout, stderr) = plaza(server, &["backup", "--out", &out.to_string_lossy()]);
    assert_eq!(code, 0, "backup failed: {stderr}");
    assert!(stderr.contains("checksum verified"), "{stderr}");
    serde_json::from_str(&stdout).expect("backup answer is JSON")
}

fn restore(file: &Path, data_dir: &Path, force: bool) -> (i32, String, String) {
    let (file, dir) = (file.to_string_lossy(), data_dir.to_string_lossy());
    let mut args = vec!["restore", &*file, "--data-dir", &*dir];
    if force {
        args.push("--force");
    }
    plaza_offline(&args)
}

/// Every entry of a directory, recursively, relative to it, sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            out.push(p.strip_prefix(dir).expect("inside").to_path_buf());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_backup_under_load_restores_every_write_acknowledged_before_it_began() {
    let (tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    shop(&server);

    // Writers write distinct keys until told to stop, remembering each acknowledged one.
    let acknowledged: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let file = tmp.path().join("shop.plzbak");
    let (before_backup, answer) = std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for w in 0..WRITERS {
            let (server, acknowledged, stop) = (&server, &acknowledged, &stop);
            s.spawn(move || {
                for i in 1.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let (key, value) = (format!("w{w}-{i}"), format!("v{w}.{i}"));
                    match server.try_text(
                        "shop",
                        &format!("o-w{w}"),
                        &key,
                        &format!("set {key} {value}"),
                    ) {
                        Ok(a) if a.reply_text() == Some("ok") => {
                            acknowledged.lock().unwrap().push((key, value))
                        }
                        // Not acknowledged (a refusal or a timeout): not counted, keep going.
                        Ok(_) => {}
                        Err(e) => panic!("the server stopped answering during the backup: {e}"),
                    }
                }
            });
        }
        eventually(
            &format!("{WRITES_BEFORE_BACKUP} acknowledged writes"),
            || (acknowledged.lock().unwrap().len() >= WRITES_BEFORE_BACKUP).then_some(()),
        );
        // Everything acknowledged up to here was acknowledged before the backup command started.
        let before_backup = acknowledged.lock().unwrap().clone();
        let answer = backup(&server, &file);
        // The writers were not held up for good: more writes are acknowledged after the backup.
        let after_backup = acknowledged.lock().unwrap().len();
        eventually("writes acknowledged after the backup", || {
            (acknowledged.lock().unwrap().len() >= after_backup + WRITERS).then_some(())
        });
        (before_backup, answer)
    });
    let all = acknowledged.into_inner().unwrap();
    assert!(before_backup.len() >= WRITES_BEFORE_BACKUP);
    assert!(all.len() > before_backup.len());

    // What the CLI saved is what the server keeps in its backup directory.
    let manifest = &answer["manifest"];
    assert_eq!(manifest["tables"]["accounts"], 1, "{answer}");
    assert!(
        manifest["files"].as_object().is_some_and(|f| !f.is_empty()),
        "{answer}"
    );
    let bytes = std::fs::metadata(&file).expect("backup file").len();
    assert_eq!(manifest["bytes"], bytes);
    #[cfg(unix)]
    {
        // It holds the admin token and every account's data.
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600, "the saved backup is owner-only");
        let kept = dir.join("backups");
        assert_eq!(mode(&kept), 0o700, "the backup directory is private");
    }
    let kept = server.get("/api/v1/system/backups");
    assert_eq!(kept.status, 200, "{kept:?}");
    let backups = kept.body["backups"].as_array().expect("backups");
    assert_eq!(backups.len(), 1, "{kept:?}");
    assert_eq!(backups[0]["bytes"], bytes, "{kept:?}");
    let name = backups[0]["name"].as_str().expect("name");
    assert!(
        name.starts_with("plaza-backup-") && name.ends_with(".plzbak"),
        "{name}"
    );
    assert!(dir.join("backups").join(name).is_file());
    let (code, out, err) = plaza(&server, &["system", "backups"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(name), "{out}");
    server.stop();

    // Restore into a new directory and serve from it.
    let restored = tmp.path().join("restored");
    let (code, out, err) = restore(&file, &restored, false);
    assert_eq!(code, 0, "restore failed: {err}");
    let report: Value = serde_json::from_str(&out).expect("restore answer is JSON");
    assert_eq!(report["manifest"]["tables"], manifest["tables"]);
    assert_eq!(report["replaced"], Value::Null);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&restored).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the restored data directory is private");
    }
    let server = Server::start(&restored, false);
    for (n, (key, value)) in before_backup.iter().enumerate() {
        let a = server.text(
            "shop",
            "o-check",
            &format!("check-{n}"),
            &format!("get {key}"),
        );
        assert_eq!(
            a.reply_text(),
            Some(value.as_str()),
            "write {key} acknowledged before the backup began is missing: {a:?}"
        );
    }
    // Writes acknowledged later may or may not be in it, but never half: a key is there with
    // its value, or not at all.
    for (n, (key, value)) in all[before_backup.len()..].iter().enumerate() {
        let a = server.text(
            "shop",
            "o-check",
            &format!("later-{n}"),
            &format!("get {key}"),
        );
        let got = a.reply_text().expect("a reply");
        assert!(got == value || got == "<none>", "{key}: {got:?}");
    }
    // The restored server works: it answers a new message, and keeps what it is told.
    assert_eq!(
        server.text("shop", "o-new", "new-1", "whoami").reply_text(),
        Some("shop/probe@0.1.0")
    );
    assert_eq!(
        server
            .text("shop", "o-new", "new-2", "set fresh yes")
            .reply_text(),
        Some("ok")
    );
    assert_eq!(
        server
            .text("shop", "o-new", "new-3", "get fresh")
            .reply_text(),
        Some("yes")
    );
}

#[test]
fn a_damaged_backup_is_refused_and_a_used_directory_is_replaced_only_with_force() {
    let (tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    shop(&server);
    assert_eq!(
        server
            .text("shop", "o-1", "1", "set colour blue")
            .reply_text(),
        Some("ok")
    );
    let file = tmp.path().join("good.plzbak");
    backup(&server, &file);
    server.stop();
    let good = std::fs::read(&file).expect("backup");

    // A flipped byte anywhere (the magic, the format version, the contents, the checksum's tag,
    // the checksum), or a file cut short, is refused before anything is written.
    let flipped = |at: usize| {
        let mut bytes = good.clone();
        bytes[at] ^= 0x80;
        bytes
    };
    let n = good.len();
    let damaged = [
        ("flipped-magic", flipped(0)),
        ("flipped-version", flipped(8)),
        ("flipped-middle", flipped(n / 2)),
        ("flipped-tag", flipped(n - 33)),
        ("flipped-checksum", flipped(n - 1)),
        ("truncated", good[..n - 100].to_vec()),
        ("half", good[..n / 2].to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in damaged {
        let bad = tmp.path().join(format!("{what}.plzbak"));
        std::fs::write(&bad, bytes).expect("write damaged copy");
        let target = tmp.path().join(format!("from-{what}"));
        let before = listing(tmp.path());
        let (code, _, err) = restore(&bad, &target, false);
        assert_eq!(code, 2, "{what}: {err}");
        assert!(err.contains("corrupt"), "{what}: {err}");
        assert!(err.contains("nothing was restored"), "{what}: {err}");
        assert!(!target.exists(), "{what}: the target was created");
        assert_eq!(listing(tmp.path()), before, "{what}: something was written");
    }

    // A non-empty directory is not overwritten without --force…
    let used = tmp.path().join("used");
    let (code, _, err) = restore(&file, &used, false);
    assert_eq!(code, 0, "{err}");
    std::fs::write(used.join("marker"), b"kept").expect("marker");
    let before = listing(&used);
    let (code, _, err) = restore(&file, &used, false);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--force") && err.contains("not empty"),
        "{err}"
    );
    assert_eq!(
        listing(&used),
        before,
        "the refused restore changed the directory"
    );

    // …and with it, the old contents are moved aside, to where the CLI says.
    let (code, out, err) = restore(&file, &used, true);
    assert_eq!(code, 0, "{err}");
    let aside = err
        .lines()
        .find_map(|l| {
            l.split_once(" were moved to ")
                .map(|(_, p)| PathBuf::from(p.trim()))
        })
        .unwrap_or_else(|| panic!("the CLI says where the old contents went: {err}"));
    let report: Value = serde_json::from_str(&out).expect("restore answer is JSON");
    assert_eq!(report["replaced"], json!(aside.to_string_lossy()));
    assert_eq!(
        std::fs::read(aside.join("marker")).expect("kept aside"),
        b"kept"
    );
    assert!(aside.join("db").is_dir());
    assert!(!used.join("marker").exists());

    // The replaced directory serves the backup's data.
    let server = Server::start(&used, false);
    assert_eq!(
        server.text("shop", "o-1", "2", "get colour").reply_text(),
        Some("blue")
    );
}

#[test]
fn a_running_servers_directory_is_not_restored_over() {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let file = tmp.path().join("b.plzbak");
    backup(&server, &file);
    // Even with --force, a database in use is left alone.
    let (code, _, err) = restore(&file, &dir, true);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("stop the server"), "{err}");
    assert_eq!(server.get("/api/v1/accounts").status, 200);
    assert!(dir.join("db").is_dir());
}

#[test]
fn backup_schedule_flags_are_checked_before_anything_starts() {
    let (_tmp, dir) = data_dir();
    let d = dir.to_string_lossy();
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", &*d];
        args.extend_from_slice(extra);
        plaza_offline(&args)
    };
    for (flags, says) in [
        (&["--backup-every", "10s"][..], "at most once a minute"),
        (&["--backup-every", "59s"][..], "at most once a minute"),
        (&["--backup-every", "soon"][..], "try 6h"),
        (
            &["--backup-every", "1h", "--backup-keep", "0"][..],
            "--backup-keep",
        ),
    ] {
        let (code, _, err) = serve(flags);
        assert_eq!(code, 2, "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
        assert!(!dir.exists(), "{flags:?}: the data directory was created");
    }
}
