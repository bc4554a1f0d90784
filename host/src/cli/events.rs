//! `plaza events …`: the account's event log, its daily aggregates and its retention.

use clap::Subcommand;
use serde_json::{Value, json};

use super::topics::query_string;
use super::{Remote, seg};
use crate::error::Result;

#[derive(Subcommand, Debug)]
pub enum EventsCmd {
    /// List log entries, oldest first.
    List {
        account: String,
        /// Start (inclusive): ms since the epoch, RFC 3339, or YYYY-MM-DD in the account's timezone.
        #[arg(long)]
        from: Option<String>,
        /// End (exclusive; a date includes that whole day).
        #[arg(long)]
        to: Option<String>,
        /// inbound_message, follower_event or delivery (comma-separated for several).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        openid: Option<String>,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Counts per kind for each day in the account's timezone (default: the last 7 days).
    Daily {
        account: String,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// Last day (inclusive), YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show the account's retention, or set it with DAYS (or back to the default with --default).
    Retention {
        account: String,
        #[arg(conflicts_with = "default")]
        days: Option<u32>,
        /// Use the server's default retention for this account.
        #[arg(long)]
        default: bool,
        #[command(flatten)]
        remote: Remote,
    },
}

impl EventsCmd {
    pub fn run(self) -> Result<Value> {
        match self {
            EventsCmd::List {
                account,
                from,
                to,
                kind,
                openid,
                cursor,
                limit,
                remote,
            } => remote.client()?.get(&format!(
                "/accounts/{}/events{}",
                seg(&account),
                query_string(&[
                    ("from", from),
                    ("to", to),
                    ("kind", kind),
                    ("openid", openid),
                    ("cursor", cursor),
                    ("limit", limit.map(|l| l.to_string())),
                ])
            )),
            EventsCmd::Daily {
                account,
                from,
                to,
                remote,
            } => remote.client()?.get(&format!(
                "/accounts/{}/events/daily{}",
                seg(&account),
                query_string(&[("from", from), ("to", to)])
            )),
            EventsCmd::Retention {
                account,
                days,
                default,
                remote,
            } => {
                let path = format!("/accounts/{}/events/retention", seg(&account));
                match (days, default) {
                    (None, false) => remote.client()?.get(&path),
                    (days, _) => remote.client()?.put(&path, &json!({ "days": days })),
                }
            }
        }
    }
}
