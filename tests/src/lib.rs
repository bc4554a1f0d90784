//! Harness for Plaza's end-to-end tests: the real `plaza` binary on a free loopback port, a real
//! data directory, real plugin components, spoken to over real HTTP.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use plaza_host::bundled::{WASM_DIR, WORKSPACE_DIR};

pub mod browser;
pub mod python;
pub mod stand_in;

pub const TOKEN: &str = "test-admin-token";

/// Path of the binary under test: the `plaza` entry point built in this package, which cargo
/// builds next to the test executables' `deps/` directory before running integration tests.
pub fn plaza_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let bin = dir.join(format!("plaza-under-test{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing; run the tests through cargo",
        bin.display()
    );
    bin
}

/// The real wall-clock time in ms since the epoch (the server's clock in these tests).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// The `Etc/GMT` zone (whole hours from UTC) where the local time is closest to noon now, and its
/// offset in hours (`Etc/GMT-5` is UTC+5: the sign is POSIX's). Tests that count by the account's
/// local day give the account this zone, so that "today" cannot end while they run.
pub fn noon_zone() -> (String, i64) {
    let utc_hour = (now_ms() / 3_600_000 % 24) as i64;
    let offset = (12 - utc_hour).clamp(-12, 14);
    let name = match offset {
        0 => "Etc/GMT".to_string(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    (name, offset)
}

/// Where every server the tests start caches compiled plugin code (`--compiled-cache`): the
/// components are the same in every test, and compiling ten of them takes seconds per start.
/// A test about the cache itself gives its server a cache of its own.
pub fn shared_compiled_cache() -> PathBuf {
    plaza_bin()
        .parent()
        .expect("target profile directory")
        .join("plaza-test-compiled")
}

/// A running `plaza serve`. Killed on drop.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    agent: ureq::Agent,
}

/// An HTTP answer: status and JSON body (`Value::Null` when empty, a string when not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
    /// The passive reply's text of an inbound answer.
    pub fn reply_text(&self) -> Option<&str> {
        self.body["reply"]["content"].as_str()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

impl Server {
    /// Starts `plaza serve` on `data_dir` (created if needed) and waits until it listens.
    pub fn start(data_dir: &Path, demo: bool) -> Server {
        Self::start_with(data_dir, demo, &[])
    }

    /// Like [`Server::start`] with extra environment variables for the server (they override the
    /// defaults, e.g. `PLAZA_ADMIN_TOKEN` set empty makes the server generate its token).
    pub fn start_with(data_dir: &Path, demo: bool, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(plaza_bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("PLAZA_ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", "warn,plugin=info")
            .env("PLAZA_COMPILED_CACHE", shared_compiled_cache())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(data_dir.with_extension("log"))
                    .expect("server log file"),
            ));
        if demo {
            cmd.arg("--demo");
        }
        let mut child = cmd.spawn().expect("spawn plaza");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let (false, Some(addr)) = (sent, line.strip_prefix("Plaza listening on ")) {
                    let _ = tx.send(addr.trim().to_string());
                    sent = true;
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let log =
                    std::fs::read_to_string(data_dir.with_extension("log")).unwrap_or_default();
                panic!("plaza did not start; its log:\n{log}");
            }
        };
        Server {
            child: Some(child),
            base,
            data_dir: data_dir.to_path_buf(),
            agent: agent(),
        }
    }

    fn answer(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut resp = resp.expect("request reached the server");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer { status, body }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Answer {
        Self::answer(
            self.agent
                .get(&self.url(path))
                .header("Authorization", &format!("Bearer {TOKEN}"))
                .call(),
        )
    }

    pub fn get_as(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.agent.get(&self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        Self::answer(req.call())
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        Self::answer(
            self.agent
                .post(&self.url(path))
                .header("Authorization", &format!("Bearer {TOKEN}"))
                .send_json(body),
        )
    }

    /// POST with an arbitrary body and optional bearer token.
    pub fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Answer {
        let mut req = self
            .agent
            .post(&self.url(path))
            .header("Content-Type", content_type);
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        Self::answer(req.send(body))
    }

    pub fn put_raw(&self, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
        let mut req = self
            .agent
            .put(&self.url(path))
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        Self::answer(req.send(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Answer {
        Self::answer(
            self.agent
                .patch(&self.url(path))
                .header("Authorization", &format!("Bearer {TOKEN}"))
                .send_json(body),
        )
    }

    pub fn delete(&self, path: &str) -> Answer {
        Self::answer(
            self.agent
                .delete(&self.url(path))
                .header("Authorization", &format!("Bearer {TOKEN}"))
                .call(),
        )
    }

    pub fn create_account(&self, id: &str, kind: &str, verified: bool) -> Answer {
        let a = self.post(
            "/api/v1/accounts",
            &json!({ "id": id, "kind": kind, "verified": verified }),
        );
        assert_eq!(a.status, 201, "create account {id}: {a:?}");
        a
    }

    /// Uploads a plugin through the multipart endpoint.
    pub fn upload(&self, manifest: &str, wasm: &[u8]) -> Answer {
        let boundary = "plaza-test-boundary-7d1f";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\n{manifest}\r\n").as_bytes(),
        );
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"p.wasm\"\r\nContent-Type: application/wasm\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(wasm);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.post_raw(
            "/api/v1/plugins",
            Some(TOKEN),
            &format!("multipart/form-data; boundary={boundary}"),
            &body,
        )
    }

    pub fn install(&self, account: &str, body: Value) -> Answer {
        self.post(&format!("/api/v1/accounts/{account}/installations"), &body)
    }

    /// Like [`Server::text`] but a connection failure (e.g. the server was killed) is an `Err`.
    pub fn try_text(
        &self,
        account: &str,
        from: &str,
        msg_id: &str,
        text: &str,
    ) -> Result<Answer, String> {
        let resp = self
            .agent
            .post(&self.url(&format!("/api/v1/accounts/{account}/inbound")))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send_json(
                json!({ "msg_id": msg_id, "from": from, "msg_type": "text", "content": text }),
            )
            .map_err(|e| e.to_string())?;
        Ok(Self::answer(Ok(resp)))
    }

    /// Sends a text message from `from` and returns the answer.
    pub fn text(&self, account: &str, from: &str, msg_id: &str, text: &str) -> Answer {
        self.post(
            &format!("/api/v1/accounts/{account}/inbound"),
            &json!({ "msg_id": msg_id, "from": from, "msg_type": "text", "content": text }),
        )
    }

    pub fn event(&self, account: &str, from: &str, event: &str) -> Answer {
        self.post(
            &format!("/api/v1/accounts/{account}/inbound"),
            &json!({ "msg_type": "event", "event": event, "from": from }),
        )
    }

    pub fn outbox(&self, account: &str, openid: &str) -> Vec<Value> {
        let a = self.get(&format!(
            "/api/v1/accounts/{account}/followers/{openid}/messages"
        ));
        assert_eq!(a.status, 200, "{a:?}");
        a.body["messages"].as_array().cloned().unwrap_or_default()
    }

    pub fn errors(&self, account: &str, plugin: &str) -> Vec<Value> {
        let a = self.get(&format!(
            "/api/v1/accounts/{account}/installations/{plugin}/errors"
        ));
        assert_eq!(a.status, 200, "{a:?}");
        a.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// Sends SIGKILL without waiting (usable while other threads still talk to the server).
    pub fn sigkill(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg("-9")
                .arg(c.id().to_string())
                .status();
        }
    }

    /// Stops the server the hard way: SIGKILL, no shutdown hooks, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server gracefully (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the `plaza` CLI against `server` with the admin token as a script does, with
/// `PLAZA_JSON=1` (the server's JSON answer on stdout): (exit code, stdout, stderr).
pub fn plaza(server: &Server, args: &[&str]) -> (i32, String, String) {
    run_plaza(server, args, true)
}

/// Runs the `plaza` CLI against `server` as a person does (tables, `key: value` lines; stdout is
/// not a terminal, so no progress bars): (exit code, stdout, stderr).
pub fn plaza_human(server: &Server, args: &[&str]) -> (i32, String, String) {
    run_plaza(server, args, false)
}

fn run_plaza(server: &Server, args: &[&str], json: bool) -> (i32, String, String) {
    let mut cmd = Command::new(plaza_bin());
    cmd.args(args)
        .env("PLAZA_SERVER", &server.base)
        .env("PLAZA_ADMIN_TOKEN", TOKEN)
        .env_remove("PLAZA_JSON");
    if json {
        cmd.env("PLAZA_JSON", "1");
    }
    let out = cmd.output().expect("run plaza");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the `plaza` CLI without a server (`restore`, argument checks of `serve`): (exit code,
/// stdout, stderr). A command still running after [`PATIENCE`] is killed and fails the test (a
/// `serve` whose arguments should have been refused would otherwise run for ever).
pub fn plaza_offline(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(plaza_bin())
        .args(args)
        .env_remove("PLAZA_SERVER")
        .env_remove("PLAZA_DATA_DIR")
        .env_remove("PLAZA_ADMIN_TOKEN")
        // Answers as a script reads them (the JSON), like [`plaza`].
        .env("PLAZA_JSON", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run plaza");
    // Read both pipes while waiting, so a chatty command cannot block on a full pipe.
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read(child.stdout.take().map(|p| Box::new(p) as _));
    let err = read(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for plaza") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("plaza {args:?} was still running after {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

/// A fixture's or first-party plugin's manifest text and component bytes.
pub fn plugin_files(manifest_rel: &str, wasm_stem: &str) -> (String, Vec<u8>) {
    let manifest =
        std::fs::read_to_string(Path::new(WORKSPACE_DIR).join(manifest_rel)).expect("manifest");
    let wasm =
        std::fs::read(Path::new(WASM_DIR).join(format!("{wasm_stem}.wasm"))).expect("component");
    (manifest, wasm)
}

/// The probe fixture's component.
pub fn probe_wasm() -> Vec<u8> {
    plugin_files("tests/fixtures/probe/plugin.toml", "probe").1
}

/// A manifest for the probe component under another name, with the given capabilities and limits.
pub fn probe_manifest(
    name: &str,
    capabilities: &[&str],
    memory_mb: u32,
    timeout_ms: u64,
) -> String {
    let caps: Vec<String> = capabilities.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "name = {name:?}\nversion = \"0.1.0\"\napi = \"^0.2\"\ndescription = \"probe fixture\"\ncapabilities = [{}]\n\n[limits]\nmemory_mb = {memory_mb}\ntimeout_ms = {timeout_ms}\n",
        caps.join(", ")
    )
}

/// The deadline of a probe installed by [`install_probe`].
pub const PROBE_TIMEOUT_MS: u64 = 5_000;

/// Uploads the probe under `name` and installs it on `account` with all its capabilities granted.
pub fn install_probe(server: &Server, account: &str, name: &str, grants: &[&str]) {
    install_probe_with(server, account, name, &[], grants);
}

/// Like [`install_probe`], with extra capabilities in the manifest (e.g. `topics.publish:x`).
pub fn install_probe_with(
    server: &Server,
    account: &str,
    name: &str,
    extra_capabilities: &[&str],
    grants: &[&str],
) {
    let mut all = vec![
        "storage",
        "messaging.send",
        "scheduling",
        "followers.read",
        "http.routes",
    ];
    all.extend_from_slice(extra_capabilities);
    // A deadline no ordinary probe call reaches even on a loaded 2-core CI machine (a debug host
    // doing a durable write can take a while); the tests of deadlines set their own.
    let manifest = probe_manifest(name, &all, 32, PROBE_TIMEOUT_MS);
    let mut up = server.upload(&manifest, &probe_wasm());
    let mut version = "0.1.0";
    if up.status == 409 {
        // A bundled plugin of that name (the probe playing `editor` or `shop`) holds 0.1.0: the
        // probe comes in as an older version, installed by version.
        version = "0.0.1";
        let older = manifest.replacen("version = \"0.1.0\"", "version = \"0.0.1\"", 1);
        up = server.upload(&older, &probe_wasm());
    }
    assert!(up.status == 201, "upload {name}: {up:?}");
    let inst = server.install(
        account,
        json!({ "plugin": name, "version": version, "grants": grants }),
    );
    assert_eq!(inst.status, 201, "install {name}: {inst:?}");
}

/// How long [`eventually`] keeps polling. Generous on purpose: it only keeps a broken build from
/// hanging the suite, and a correct build never comes near it, however loaded the machine.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Polls `f` until it yields a value and returns that value; panics naming `what` after
/// [`PATIENCE`]. The one way these tests wait for something the server does on its own time
/// (a worker, a retry, a scheduled job): they wait for the condition, never for a fixed delay.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {PATIENCE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh temporary data directory.
pub fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    (tmp, dir)
}

/// Reads an HTTP/1.1 request body as a loopback stand-in server receives it: `length` bytes, or
/// the chunks of a `transfer-encoding: chunked` body (what a plugin's `wasi:http` request sends).
/// `None` if the connection ends early or a chunk size does not parse.
pub fn read_http_body(
    reader: &mut impl std::io::BufRead,
    length: usize,
    chunked: bool,
) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    if !chunked {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
        return Some(body);
    }
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}
