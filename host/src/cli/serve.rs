//! `plaza serve`: open the data directory, register the bundled plugins, start the scheduler and
//! the HTTP server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::api::{self, AppState, auth};
use crate::demo;
use crate::error::{PlazaError, Result};
use crate::platform::{Platform, PlatformOptions};

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "PLAZA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The URL followers' browsers reach this server at (behind a proxy: the proxy's URL), used in
    /// signed follower links and media URLs. Default: `http://` and the address listened on.
    #[arg(long, env = "PLAZA_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// Where accounts, plugins, data and the compiled-code cache live.
    #[arg(long, env = "PLAZA_DATA_DIR", default_value = "plaza-data")]
    pub data_dir: PathBuf,
    /// Where compiled plugin code is cached (default: `compiled` inside the data directory).
    /// Servers on several data directories may share one; only plaza may write to it.
    #[arg(long, env = "PLAZA_COMPILED_CACHE")]
    pub compiled_cache: Option<PathBuf>,
    /// Create account `demo` (service, verified) with the first-party plugins installed.
    #[arg(long)]
    pub demo: bool,
    /// Broadcast recipients delivered per second (default: as fast as storage allows).
    #[arg(long, env = "PLAZA_BROADCAST_RATE")]
    pub broadcast_rate: Option<u32>,
    /// Jobs that came due while plaza was down: fire them once, late, or skip them.
    #[arg(
        long,
        env = "PLAZA_MISSED_JOBS",
        value_enum,
        default_value = "fire-once"
    )]
    pub missed_jobs: crate::scheduling::MissedJobs,
    /// Failed attempts after which a topic delivery moves to the dead-letter list.
    #[arg(long, env = "PLAZA_TOPIC_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub topic_max_attempts: u32,
    /// Delay before retrying a failed topic delivery; doubles per attempt, at most an hour.
    #[arg(long, env = "PLAZA_TOPIC_BACKOFF_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub topic_backoff_ms: u64,
    /// Days the event log keeps entries of accounts that set no retention of their own.
    #[arg(long, env = "PLAZA_EVENT_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub event_retention_days: u32,
    /// How long a handled inbound message is remembered, so that a retry gets the first answer
    /// (e.g. `1h`, `10m`; at least a minute).
    #[arg(long, env = "PLAZA_DEDUP_RETENTION", value_parser = parse_interval, default_value = "1h")]
    pub dedup_retention: std::time::Duration,
    /// Where backups are kept (default: `backups` inside the data directory).
    #[arg(long, env = "PLAZA_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Take a backup this often while serving, e.g. `6h`, `1d`, `30m` (default: never).
    #[arg(long, env = "PLAZA_BACKUP_EVERY", value_parser = parse_interval)]
    pub backup_every: Option<std::time::Duration>,
    /// How long plugins get to answer a push on a WeChat-bridged account before it is answered
    /// `success` and the reply goes out as a customer-service message (WeChat waits 5 s).
    #[arg(long, env = "PLAZA_WECHAT_REPLY_DEADLINE_MS", default_value_t = 4500, value_parser = clap::value_parser!(u64).range(1..=4900))]
    pub wechat_reply_deadline_ms: u64,
    /// Scheduled backups to keep (the oldest are deleted beyond it).
    #[arg(long, env = "PLAZA_BACKUP_KEEP", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_keep: u32,
    /// How long a push to an account's developer server may take per attempt (WeChat: 5s).
    #[arg(long, env = "PLAZA_DEVELOPER_SERVER_TIMEOUT", value_parser = parse_push_timeout, default_value = "5s")]
    pub developer_server_timeout: std::time::Duration,
    /// Send every security event (sign-in from a new address, lock-out, IP refusal) as a
    /// customer-service message to this follower, written ACCOUNT/OPENID (e.g. the operator's own
    /// WeChat following the account; the 48 h window applies).
    #[arg(long, env = "PLAZA_SECURITY_ALERTS_TO")]
    pub security_alerts_to: Option<crate::platform::AlertTarget>,
    /// Attempts per push to a developer server, with the identical body (WeChat: 3).
    #[arg(long, env = "PLAZA_DEVELOPER_SERVER_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub developer_server_attempts: u32,
}

/// A push timeout: a human duration (`5s`, `500ms`) between 10 ms and a minute.
fn parse_push_timeout(s: &str) -> std::result::Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (try 5s or 500ms)"))?;
    if d < std::time::Duration::from_millis(10) || d > std::time::Duration::from_secs(60) {
        return Err(format!("{s:?} must be between 10ms and 60s"));
    }
    Ok(d)
}

/// An absolute `http(s)://` URL without query or fragment.
fn parse_public_url(s: &str) -> std::result::Result<String, String> {
    let ok = (s.starts_with("http://") || s.starts_with("https://"))
        && !s.contains(['?', '#', ' '])
        && s.len() > "https://".len()
        && s.len() <= 512;
    if ok {
        Ok(s.trim_end_matches('/').to_string())
    } else {
        Err(format!(
            "{s:?} is not an absolute http:// or https:// URL (e.g. https://plaza.example.com)"
        ))
    }
}

/// A backup interval: a human duration (`30m`, `6h`, `1d`) of at least a minute.
fn parse_interval(s: &str) -> std::result::Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (try 6h, 1d or 30m)"))?;
    if d < std::time::Duration::from_secs(60) {
        return Err(format!(
            "{s:?} is too often; take backups at most once a minute"
        ));
    }
    Ok(d)
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let mut opts = PlatformOptions::new(&args.data_dir);
    opts.broadcast_rate = args.broadcast_rate;
    opts.missed_jobs = args.missed_jobs;
    opts.topics.max_attempts = args.topic_max_attempts;
    opts.topics.backoff_base_ms = args.topic_backoff_ms;
    opts.events.retention_days = args.event_retention_days;
    opts.backup_dir = args.backup_dir.clone();
    opts.compiled_cache_dir = args.compiled_cache.clone();
    opts.dedup_retention_ms = args.dedup_retention.as_millis() as u64;
    opts.developer_server.attempt_timeout = args.developer_server_timeout;
    opts.security_alerts = args.security_alerts_to.clone();
    opts.developer_server.attempts = args.developer_server_attempts;
    let platform = Platform::open(opts)?;
    demo::register_bundled(&platform).await?;
    if args.demo {
        demo::ensure_demo(&platform).await?;
    }
    platform.store.sync().await?;
    let (token, created) =
        auth::load_or_create_admin_token(&args.data_dir, std::env::var("PLAZA_ADMIN_TOKEN").ok())?;
    if created {
        super::say(&format!(
            "Admin token (printed once; also saved in {}): {token}",
            args.data_dir.join(auth::TOKEN_FILE).display()
        ));
    }
    tokio::spawn(platform.clone().run_scheduler());
    tokio::spawn(platform.clone().run_broadcasts());
    tokio::spawn(platform.clone().run_wechat_outbound());
    tokio::spawn(platform.clone().run_topic_delivery());
    tokio::spawn(platform.clone().run_event_pruner());
    tokio::spawn(platform.clone().run_dedup_pruner());
    if let Some(every) = args.backup_every {
        tokio::spawn(
            platform
                .clone()
                .run_backups(every, args.backup_keep as usize),
        );
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| PlazaError::Unavailable(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| PlazaError::Unavailable(e.to_string()))?;
    platform.set_wechat_reply_deadline(std::time::Duration::from_millis(
        args.wechat_reply_deadline_ms,
    ));
    platform.set_public_url(
        &args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
    );
    let stats = &platform.plugins.registry.stats;
    tracing::info!(
        ready_ms = started.elapsed().as_millis() as u64,
        compiled = stats.compiled.load(std::sync::atomic::Ordering::Relaxed),
        from_cache = stats.cache_hits.load(std::sync::atomic::Ordering::Relaxed),
        "plaza ready"
    );
    super::say(&format!("Plaza listening on http://{addr}"));
    if args.demo {
        super::say(&format!(
            "Demo account `{}` is ready: try `plaza send demo o-alice hello`",
            demo::DEMO_ACCOUNT
        ));
    }
    let app = api::router(AppState {
        platform: platform.clone(),
        admin_token: Arc::new(auth::AdminToken::new(&token)),
    });
    // With the peer's address: account protection counts failed sign-ins per address, and
    // tokens may be restricted to addresses.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| PlazaError::Unavailable(format!("server error: {e}")))?;
    platform.store.sync().await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
