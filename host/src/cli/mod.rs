//! The `plaza` command line: `serve`, and one subcommand per admin action (each an admin API call).

mod audit;
mod client;
mod developer_server;
mod events;
mod followers;
mod media;
mod menus;
mod output;
pub mod serve;
mod service;
pub mod system;
mod templates;
mod tokens;
mod topics;
mod wechat;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use self::client::Client;
use self::output::View;
use crate::error::{PlazaError, Result};

/// The exit statuses, shown under `plaza --help` (and in the README).
const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  internal error (a bug or an unexpected state; the server log says more)
  2  bad input or unknown thing (invalid, not_found, conflict, too_large; also usage errors)
  3  not allowed (unauthorized, permission_denied)
  4  server unreachable or temporarily unavailable (unavailable)
  5  refused by a platform rule (quota_exceeded, outside_window)";

#[derive(Parser, Debug)]
#[command(
    name = "plaza",
    version,
    about = "Plaza: official accounts with WebAssembly feature plugins",
    after_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    /// Print the server's JSON answer as is, for scripts (default: tables and `key: value`
    /// lines for people, progress bars on a terminal).
    #[arg(
        long,
        global = true,
        env = "PLAZA_JSON",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// The Plaza server to talk to.
    #[arg(
        long,
        global = true,
        env = "PLAZA_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Admin token; defaults to PLAZA_ADMIN_TOKEN, then to the token file in --data-dir.
    #[arg(long, global = true, env = "PLAZA_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Data directory whose admin-token file is used when no token is given.
    #[arg(
        long,
        global = true,
        env = "PLAZA_DATA_DIR",
        default_value = "plaza-data"
    )]
    pub data_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (HTTP API, local channel, plugins, scheduler).
    Serve(serve::ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Manage uploaded plugins.
    #[command(subcommand)]
    Plugin(PluginCmd),
    /// Install a plugin on an account.
    Install {
        account: String,
        plugin: String,
        #[arg(long)]
        version: Option<String>,
        /// Config as JSON, or @file.json.
        #[arg(long)]
        config: Option<String>,
        /// Grant a capability the plugin requests (repeatable).
        #[arg(long = "grant")]
        grants: Vec<String>,
        #[arg(long)]
        priority: Option<i32>,
        /// Install without enabling.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Enable an installed plugin.
    Enable {
        account: String,
        plugin: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Disable an installed plugin (its data stays).
    Disable {
        account: String,
        plugin: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Replace an installation's config (JSON or @file.json).
    Config {
        account: String,
        plugin: String,
        config: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Replace an installation's grants.
    Grant {
        account: String,
        plugin: String,
        capabilities: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Switch an installation to another registered version (upgrade or rollback).
    Upgrade {
        account: String,
        plugin: String,
        version: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Set an installation's priority (higher answers first).
    Priority {
        account: String,
        plugin: String,
        priority: i32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Uninstall a plugin from an account.
    Uninstall {
        account: String,
        plugin: String,
        /// Also delete the plugin's stored data for the account.
        #[arg(long)]
        purge: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// List installations of an account.
    Installations {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show an installation's recent failures.
    Errors {
        account: String,
        plugin: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Send an inbound text message as a follower (local channel) and print the reply.
    Send {
        account: String,
        from: String,
        text: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a follower's outbox.
    Messages {
        account: String,
        openid: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Broadcasts (群发): send, follow progress, list.
    #[command(subcommand)]
    Broadcast(BroadcastCmd),
    /// The audit log: who changed what, when, from where (oldest first).
    Audit(audit::AuditArgs),
    /// Outbound messages the review chain blocked.
    Reviews {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Topic deliveries between plugins: waiting, dead letters, replay, discard.
    #[command(subcommand)]
    Topics(topics::TopicsCmd),
    /// The event log: entries, daily aggregates, retention.
    #[command(subcommand)]
    Events(events::EventsCmd),
    /// Followers: list (with --segment), profile, stats.
    #[command(subcommand)]
    Followers(followers::FollowersCmd),
    /// Follower tags: create, rename, delete, list, tag, untag.
    #[command(subcommand)]
    Tags(followers::TagsCmd),
    /// Template messages: add, list, show, activate, deactivate, preview, delete.
    #[command(subcommand)]
    Templates(templates::TemplatesCmd),
    /// Media (images, audio, video, PDF): upload, list, show, delete, quota.
    #[command(subcommand)]
    Media(media::MediaCmd),
    /// API tokens with roles (admin, operator, analyst): create, list, revoke, events.
    #[command(subcommand)]
    Tokens(tokens::TokensCmd),
    /// Bridge an account to a real WeChat official account: show, set, delete, outbound, sync.
    #[command(subcommand)]
    Wechat(wechat::WechatCmd),
    /// Custom menus (自定义菜单): show, set, delete, stats, publish, conditional add|delete.
    #[command(subcommand)]
    Menu(menus::MenuCmd),
    /// Customer service (人工客服): the queue of handed-over conversations, reply, close.
    #[command(subcommand)]
    Service(service::ServiceCmd),
    /// Attach existing WeChat bot code (a developer server) to an account: show, set, delete.
    #[command(subcommand)]
    DeveloperServer(developer_server::DeveloperServerCmd),
    /// Take a consistent backup of the running server (it keeps serving) and save it.
    Backup(system::BackupArgs),
    /// Restore a backup into a data directory (stop the server on it first).
    Restore(system::RestoreArgs),
    /// The server itself: versions, records set aside at start, kept backups.
    #[command(subcommand)]
    System(system::SystemCmd),
}

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// Create an account.
    Create {
        id: String,
        #[arg(long, value_parser = ["subscription", "service"])]
        kind: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        verified: bool,
        #[arg(long)]
        timezone: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    List {
        #[command(flatten)]
        remote: Remote,
    },
    Get {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Replace the account's ingress key; the new key is printed once (the old one stops working).
    RotateKey {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Issue the account's AppID and AppSecret for the WeChat-compatible API (`/cgi-bin`); the
    /// secret is printed once. Running it again rotates the secret: the old one and every access
    /// token issued under it stop working.
    ApiCredentials {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Make a new key sign the account's follower links; prints its id (never the key). Links
    /// already sent keep working until they expire (at most 30 days).
    RotateLinkKey {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Subcommand, Debug)]
pub enum BroadcastCmd {
    /// Broadcast a text message; prints the job (follow it with `broadcast status`).
    Send {
        account: String,
        /// The text to send.
        #[arg(long)]
        text: String,
        /// Only followers with this tag.
        #[arg(long, conflicts_with_all = ["segment", "openid"])]
        tag: Option<String>,
        /// Only followers matching this segment expression.
        #[arg(long, conflicts_with = "openid")]
        segment: Option<String>,
        /// Only these followers (repeatable).
        #[arg(long)]
        openid: Vec<String>,
        /// When to send, in ms since the epoch (default: now).
        #[arg(long)]
        at: Option<u64>,
        /// Idempotency key: retrying with the same key never sends twice (default: random).
        #[arg(long)]
        key: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a broadcast's progress.
    Status {
        account: String,
        id: String,
        /// Ask again until it is done (a progress bar on a terminal), then show the final status.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// A broadcast's recipients and where each stands.
    Recipients {
        account: String,
        id: String,
        /// Only recipients in this state: pending, delivered or skipped_quota.
        #[arg(long, value_parser = ["pending", "delivered", "skipped_quota"])]
        status: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List an account's broadcasts, newest first.
    List {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Subcommand, Debug)]
pub enum PluginCmd {
    /// Upload a plugin: its plugin.toml and component.
    Upload {
        /// Path to plugin.toml.
        manifest: PathBuf,
        /// The component; defaults to the manifest's `wasm` next to the manifest.
        #[arg(long)]
        wasm: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
    List {
        #[command(flatten)]
        remote: Remote,
    },
}

impl Remote {
    fn client(&self) -> Result<Client> {
        let token = match &self.token {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(self.data_dir.join(crate::api::auth::TOKEN_FILE))
                .map(|t| t.trim().to_string())
                .map_err(|_| {
                    PlazaError::Unauthorized(format!(
                        "no admin token: pass --token, set PLAZA_ADMIN_TOKEN, or run next to the server's data directory ({})",
                        self.data_dir.display()
                    ))
                })?,
        };
        Ok(Client::new(&self.server, token))
    }
}

fn read_json_arg(arg: &str) -> Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| PlazaError::invalid(format!("cannot read {path}: {e}")))?,
        None => arg.to_string(),
    };
    serde_json::from_str(&text)
        .map_err(|e| PlazaError::invalid(format!("config is not valid JSON: {e}")))
}

/// A JSON document given on the command line: `-` reads stdin, `@path` or a path to an existing
/// file reads the file, anything else is the JSON itself. `what` names it in errors.
fn read_json_input(arg: &str, what: &str) -> Result<Value> {
    let text = if arg == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| PlazaError::invalid(format!("cannot read the {what} from stdin: {e}")))?;
        text
    } else if let Some(path) = arg
        .strip_prefix('@')
        .or_else(|| Path::new(arg).is_file().then_some(arg))
    {
        std::fs::read_to_string(path)
            .map_err(|e| PlazaError::invalid(format!("cannot read {path}: {e}")))?
    } else {
        arg.to_string()
    };
    serde_json::from_str(&text)
        .map_err(|e| PlazaError::invalid(format!("{what} is not valid JSON: {e}")))
}

fn seg(s: &str) -> String {
    // Identifiers are validated server-side; keep the path well-formed whatever was typed.
    s.replace(['/', '?', '#', '%'], "_")
}

/// Prints an answer on stdout: pretty JSON with `--json`, else for a person (see [`output`]). A
/// reader that went away (`plaza … | head -3`) is not an error: the output is simply no longer
/// wanted.
fn print(v: &Value, json: bool, view: &View) -> Result<()> {
    use std::io::Write;
    let text = if json {
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    } else {
        output::human(v, view)
    };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(PlazaError::internal(format!(
            "cannot write the answer to stdout: {e}"
        ))),
        _ => Ok(()),
    }
}

/// Writes a line to stdout for a person to read (the server's start-up lines), ignoring failure:
/// a closed stdout must not stop a server.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Writes a line to stderr, ignoring failure: there is nowhere left to report it.
fn warn(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The `plaza` entry point: parse arguments, run, map errors to a message and an exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                        tracing_subscriber::EnvFilter::new("info,cranelift=warn,wasmtime=warn")
                    }),
                )
                .with_writer(std::io::stderr)
                .init();
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(serve::run(args)),
                Err(e) => Err(PlazaError::Unavailable(format!(
                    "cannot start the async runtime: {e}"
                ))),
            }
        }
        other => run_remote(other, cli.json),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            warn(&format!("error: {e}"));
            if let PlazaError::QuotaExceeded {
                resets_at: Some(at),
                ..
            } = &e
                && let Some(when) = chrono::DateTime::from_timestamp_millis(*at as i64)
            {
                warn(&format!("the quota resets at {}", when.to_rfc3339()));
            }
            std::process::ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit status of a failure: one per kind, as documented in [`EXIT_STATUS_HELP`] and the
/// README. Exhaustive on purpose: a new kind of error must be given its status here.
pub fn exit_code(e: &PlazaError) -> u8 {
    match e {
        PlazaError::Internal(_) => 1,
        PlazaError::Invalid(_)
        | PlazaError::NotFound(_)
        | PlazaError::Conflict(_)
        | PlazaError::TooLarge(_) => 2,
        PlazaError::Unauthorized(_) | PlazaError::PermissionDenied(_) => 3,
        PlazaError::Unavailable(_) => 4,
        PlazaError::QuotaExceeded { .. } | PlazaError::OutsideWindow(_) => 5,
    }
}

/// Runs a non-serve subcommand, printing the server's answer: as JSON with `json`, else for a
/// person.
pub fn run_remote(cmd: Command, json: bool) -> Result<()> {
    use std::io::IsTerminal;
    // Progress bars only for a person watching: never into a pipe or a script's JSON.
    let progress = !json && std::io::stdout().is_terminal();
    let view = view_of(&cmd);
    let out = match cmd {
        Command::Serve(_) => return Err(PlazaError::internal("serve is not a remote command")),
        Command::Account(AccountCmd::Create { id, kind, name, verified, timezone, remote }) => remote.client()?.post(
            "/accounts",
            &json!({ "id": id, "kind": kind, "name": name, "verified": verified, "timezone": timezone }),
        )?,
        Command::Account(AccountCmd::List { remote }) => remote.client()?.get("/accounts")?,
        Command::Account(AccountCmd::Get { id, remote }) => remote.client()?.get(&format!("/accounts/{}", seg(&id)))?,
        Command::Account(AccountCmd::RotateKey { id, remote }) => {
            remote.client()?.post(&format!("/accounts/{}/ingress-key", seg(&id)), &json!({}))?
        }
        Command::Account(AccountCmd::ApiCredentials { id, remote }) => {
            remote.client()?.post(&format!("/accounts/{}/api-credentials", seg(&id)), &json!({}))?
        }
        Command::Account(AccountCmd::RotateLinkKey { id, remote }) => {
            remote.client()?.post(&format!("/accounts/{}/link-key/rotate", seg(&id)), &json!({}))?
        }
        Command::Plugin(PluginCmd::Upload { manifest, wasm, remote }) => {
            let (text, wasm) = read_plugin_files(&manifest, wasm.as_deref())?;
            remote.client()?.upload(&text, &wasm)?
        }
        Command::Plugin(PluginCmd::List { remote }) => remote.client()?.get("/plugins")?,
        Command::Install { account, plugin, version, config, grants, priority, disabled, remote } => {
            let config = config.as_deref().map(read_json_arg).transpose()?;
            let inst = remote.client()?.post(
                &format!("/accounts/{}/installations", seg(&account)),
                &json!({ "plugin": plugin, "version": version, "config": config, "grants": grants,
                         "priority": priority, "enabled": !disabled }),
            )?;
            if let Some(warning) = ungranted_warning(&account, &plugin, &inst) {
                warn(&warning);
            }
            inst
        }
        Command::Enable { account, plugin, remote } => patch(&remote, &account, &plugin, json!({ "enabled": true }))?,
        Command::Disable { account, plugin, remote } => patch(&remote, &account, &plugin, json!({ "enabled": false }))?,
        Command::Config { account, plugin, config, remote } => {
            patch(&remote, &account, &plugin, json!({ "config": read_json_arg(&config)? }))?
        }
        Command::Grant { account, plugin, capabilities, remote } => {
            patch(&remote, &account, &plugin, json!({ "grants": capabilities }))?
        }
        Command::Upgrade { account, plugin, version, remote } => {
            patch(&remote, &account, &plugin, json!({ "version": version }))?
        }
        Command::Priority { account, plugin, priority, remote } => {
            patch(&remote, &account, &plugin, json!({ "priority": priority }))?
        }
        Command::Uninstall { account, plugin, purge, remote } => remote.client()?.delete(&format!(
            "/accounts/{}/installations/{}?purge={purge}",
            seg(&account),
            seg(&plugin)
        ))?,
        Command::Installations { account, remote } => {
            remote.client()?.get(&format!("/accounts/{}/installations", seg(&account)))?
        }
        Command::Errors { account, plugin, remote } => {
            remote.client()?.get(&format!("/accounts/{}/installations/{}/errors", seg(&account), seg(&plugin)))?
        }
        Command::Send { account, from, text, remote } => {
            let msg_id = format!("cli-{}", crate::accounts::random_token(8)?);
            remote.client()?.post(
                &format!("/accounts/{}/inbound", seg(&account)),
                &json!({ "msg_id": msg_id, "from": from, "msg_type": "text", "content": text }),
            )?
        }
        Command::Broadcast(BroadcastCmd::Send { account, text, tag, segment, openid, at, key, remote }) => {
            let audience = match (tag, segment, openid.is_empty()) {
                (Some(t), _, _) => json!({ "tag": t }),
                (_, Some(s), _) => json!({ "segment": s }),
                (_, _, false) => json!({ "openids": openid }),
                _ => json!("all"),
            };
            let key = match key {
                Some(k) => k,
                None => format!("cli-{}", crate::accounts::random_token(8)?),
            };
            remote.client()?.post(
                &format!("/accounts/{}/broadcasts", seg(&account)),
                &json!({ "idempotency_key": key, "audience": audience,
                         "content": { "msg_type": "text", "content": text }, "at": at }),
            )?
        }
        Command::Broadcast(BroadcastCmd::Status { account, id, follow, remote }) => {
            let path = format!("/accounts/{}/broadcasts/{}", seg(&account), seg(&id));
            let client = remote.client()?;
            if follow { follow_broadcast(&client, &path, progress)? } else { client.get(&path)? }
        }
        Command::Broadcast(BroadcastCmd::Recipients { account, id, status, remote }) => {
            let filter = status.map(|s| format!("?status={s}&limit=1000")).unwrap_or_else(|| "?limit=1000".into());
            remote
                .client()?
                .get(&format!("/accounts/{}/broadcasts/{}/recipients{filter}", seg(&account), seg(&id)))?
        }
        Command::Broadcast(BroadcastCmd::List { account, remote }) => {
            remote.client()?.get(&format!("/accounts/{}/broadcasts", seg(&account)))?
        }
        Command::Audit(args) => audit::run(args)?,
        Command::Reviews { account, remote } => remote.client()?.get(&format!("/accounts/{}/reviews", seg(&account)))?,
        Command::Messages { account, openid, remote } => {
            remote.client()?.get(&format!("/accounts/{}/followers/{}/messages", seg(&account), seg(&openid)))?
        }
        Command::Topics(cmd) => cmd.run()?,
        Command::Events(cmd) => cmd.run()?,
        Command::Followers(cmd) => cmd.run()?,
        Command::Tags(cmd) => cmd.run()?,
        Command::Templates(cmd) => cmd.run()?,
        Command::Media(cmd) => cmd.run(progress)?,
        Command::Tokens(cmd) => cmd.run()?,
        Command::Wechat(cmd) => cmd.run()?,
        Command::Menu(cmd) => cmd.run()?,
        Command::Service(cmd) => cmd.run()?,
        Command::DeveloperServer(cmd) => cmd.run()?,
        Command::Backup(args) => system::backup(args)?,
        Command::Restore(args) => system::restore(args)?,
        Command::System(cmd) => cmd.run()?,
    };
    if !out.is_null() {
        print(&out, json, &view)?;
    }
    Ok(())
}

/// How often `broadcast status --follow` asks again.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Asks for a broadcast until it is `done` and returns its final state; with `progress`, shows
/// recipients handled (delivered or skipped) out of the total meanwhile.
fn follow_broadcast(client: &Client, path: &str, progress: bool) -> Result<Value> {
    let bar = progress.then(output::count_bar);
    loop {
        let job = client.get(path)?;
        if let Some(bar) = &bar {
            let delivered = job["delivered"].as_u64().unwrap_or(0);
            let skipped = job["skipped_quota"].as_u64().unwrap_or(0);
            bar.set_length(job["total"].as_u64().unwrap_or(0));
            bar.set_position(delivered + skipped);
            bar.set_message(format!(
                "{} (delivered {delivered}, skipped {skipped})",
                job["status"].as_str().unwrap_or("?")
            ));
        }
        if job["status"] == "done" {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Ok(job);
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
}

/// The columns a person sees for a command's answer. Commands not named here fall back to the
/// renderer's choice (a record as `key: value` lines, a list's first few scalar fields), which
/// suits `menu stats` and `wechat outbound`.
fn view_of(cmd: &Command) -> View {
    use followers::{FollowersCmd, TagsCmd};
    match cmd {
        Command::Account(AccountCmd::List { .. }) => {
            View::list("accounts", &["id", "name", "kind", "verified", "timezone"])
        }
        Command::Installations { .. } => View::list(
            "installations",
            &[
                "plugin",
                "version",
                "enabled",
                "priority",
                "grants",
                "ungranted",
            ],
        ),
        Command::Plugin(PluginCmd::List { .. }) => {
            View::list("plugins", &["name", "version", "versions", "description"])
        }
        Command::Broadcast(BroadcastCmd::List { .. }) => View::list(
            "broadcasts",
            &[
                "id",
                "status",
                "delivered",
                "skipped_quota",
                "total",
                "percent",
                "created_at",
            ],
        ),
        Command::Broadcast(BroadcastCmd::Recipients { .. }) => {
            View::list("recipients", &["openid", "status", "at"])
        }
        Command::Followers(FollowersCmd::List { .. }) => View::list(
            "followers",
            &[
                "openid",
                "nickname",
                "subscribed",
                "tags",
                "subscribed_at",
                "last_active_at",
            ],
        ),
        Command::Tags(TagsCmd::List { .. }) => View::list("tags", &["id", "name", "count"]),
        Command::Service(service::ServiceCmd::Queue { .. }) => View::list(
            "conversations",
            &[
                "openid",
                "status",
                "transferred_at",
                "transferred_by",
                "answered_at",
                "replies",
            ],
        ),
        Command::Templates(templates::TemplatesCmd::List { .. }) => View::list(
            "templates",
            &["id", "title", "active", "status", "created_at"],
        ),
        Command::Events(events::EventsCmd::List { .. }) => View::list(
            "events",
            &["at", "kind", "msg_type", "event", "openid", "plugin"],
        ),
        Command::Tokens(tokens::TokensCmd::List { .. }) => View::list(
            "tokens",
            &[
                "id",
                "name",
                "role",
                "created_at",
                "last_used_at",
                "revoked",
            ],
        ),
        Command::Media(media::MediaCmd::List { .. }) => View::list(
            "media",
            &["media_id", "content_type", "size", "created_at", "url"],
        ),
        _ => View::default(),
    }
}

/// The warning `plaza install` prints when the plugin requests capabilities it was not granted:
/// its calls that need them will fail with `permission_denied`. Names the `plaza grant` command
/// that grants everything requested (`grant` replaces the set, so the granted ones are included).
fn ungranted_warning(account: &str, plugin: &str, installation: &Value) -> Option<String> {
    let names = |field: &str| -> Vec<String> {
        installation[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ungranted = names("ungranted");
    if ungranted.is_empty() {
        return None;
    }
    let mut all = names("grants");
    all.extend(ungranted.iter().cloned());
    all.sort();
    all.dedup();
    let args: Vec<String> = [account, plugin]
        .into_iter()
        .map(str::to_string)
        .chain(all)
        .map(|a| shell_word(&a))
        .collect();
    Some(format!(
        "warning: {plugin} requests capabilities it was not granted: {}; its calls that need them \
         will fail with permission_denied. To grant everything it requests, run:\n  plaza grant {}",
        ungranted.join(", "),
        args.join(" ")
    ))
}

/// `word` quoted for a POSIX shell when it holds anything but plain characters (a topic pattern
/// such as `topics.subscribe:shop.*` would otherwise be expanded as a glob).
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/=@+,".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn patch(remote: &Remote, account: &str, plugin: &str, body: Value) -> Result<Value> {
    remote.client()?.patch(
        &format!("/accounts/{}/installations/{}", seg(account), seg(plugin)),
        &body,
    )
}

/// Reads plugin.toml and its component (the manifest's `wasm` file next to it unless given).
pub fn read_plugin_files(manifest: &Path, wasm: Option<&Path>) -> Result<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| PlazaError::invalid(format!("cannot read {}: {e}", manifest.display())))?;
    let wasm_path = match wasm {
        Some(p) => p.to_path_buf(),
        None => {
            let m = crate::plugins::manifest::Manifest::parse(&text)?;
            let file = m.wasm.ok_or_else(|| {
                PlazaError::invalid("plugin.toml names no `wasm` file; pass --wasm PATH")
            })?;
            manifest.parent().unwrap_or(Path::new(".")).join(file)
        }
    };
    let bytes = std::fs::read(&wasm_path).map_err(|e| {
        PlazaError::invalid(format!(
            "cannot read component {}: {e}",
            wasm_path.display()
        ))
    })?;
    Ok((text, bytes))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_error_has_its_documented_exit_status() {
        let cases = [
            (PlazaError::Internal("m".into()), 1),
            (PlazaError::Invalid("m".into()), 2),
            (PlazaError::NotFound("m".into()), 2),
            (PlazaError::Conflict("m".into()), 2),
            (PlazaError::TooLarge("m".into()), 2),
            (PlazaError::Unauthorized("m".into()), 3),
            (PlazaError::PermissionDenied("m".into()), 3),
            (PlazaError::Unavailable("m".into()), 4),
            (
                PlazaError::QuotaExceeded {
                    message: "m".into(),
                    resets_at: None,
                },
                5,
            ),
            (PlazaError::OutsideWindow("m".into()), 5),
        ];
        for (e, status) in cases {
            assert_eq!(exit_code(&e), status, "{e}");
            // The help text documents the code under that status.
            let line = EXIT_STATUS_HELP
                .lines()
                .find(|l| l.trim_start().starts_with(&status.to_string()))
                .unwrap();
            assert!(line.contains(e.code()), "{line:?} must name {}", e.code());
        }
    }

    #[test]
    fn the_command_tree_is_consistent_and_json_is_global() {
        use clap::CommandFactory;
        // Checks every subcommand, so that no option clashes with the global `--json`.
        Cli::command().debug_assert();
        for args in [
            &["plaza", "--json", "account", "list"][..],
            &["plaza", "account", "list", "--json"][..],
            &["plaza", "followers", "list", "cafe", "--json"][..],
        ] {
            assert!(Cli::try_parse_from(args).unwrap().json, "{args:?}");
        }
        if std::env::var_os("PLAZA_JSON").is_none() {
            assert!(
                !Cli::try_parse_from(["plaza", "account", "list"])
                    .unwrap()
                    .json
            );
        }
    }

    #[test]
    fn the_install_warning_names_a_grant_command_with_every_requested_capability() {
        let inst = json!({
            "grants": ["storage"],
            "ungranted": ["http.routes", "topics.subscribe:shop.*"],
        });
        let w = ungranted_warning("cafe", "probe", &inst).unwrap();
        assert!(
            w.contains("plaza grant cafe probe http.routes storage 'topics.subscribe:shop.*'"),
            "{w}"
        );
        assert!(w.contains("permission_denied"), "{w}");
        assert_eq!(
            ungranted_warning("cafe", "probe", &json!({ "grants": [], "ungranted": [] })),
            None
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
