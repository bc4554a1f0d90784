//! `plaza audit`: the audit log of changes made through the API, the CLI and the console.

use clap::Args;
use serde_json::Value;

use super::topics::query_string;
use super::{Remote, seg};
use crate::error::Result;

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only this account's records (an operator of the account may ask for these).
    #[arg(long)]
    account: Option<String>,
    /// Only changes by this token id (`bootstrap` for the bootstrap admin token).
    #[arg(long)]
    actor: Option<String>,
    /// Only this route template (`/accounts/{account}/menu`), or a prefix ending in `*`.
    #[arg(long)]
    route: Option<String>,
    /// Start (inclusive), ms since the epoch.
    #[arg(long)]
    from: Option<u64>,
    /// End (exclusive), ms since the epoch.
    #[arg(long)]
    to: Option<u64>,
    #[arg(long)]
    cursor: Option<String>,
    #[arg(long)]
    limit: Option<u32>,
    #[command(flatten)]
    remote: Remote,
}

/// Oldest first; `next_cursor` continues.
pub fn run(args: AuditArgs) -> Result<Value> {
    let query = query_string(&[
        ("actor", args.actor),
        ("route", args.route),
        ("from", args.from.map(|v| v.to_string())),
        ("to", args.to.map(|v| v.to_string())),
        ("cursor", args.cursor),
        ("limit", args.limit.map(|v| v.to_string())),
    ]);
    // The account's own listing, so that its operators can use the filter too.
    let path = match &args.account {
        Some(a) => format!("/accounts/{}/audit{query}", seg(a)),
        None => format!("/audit{query}"),
    };
    args.remote.client()?.get(&path)
}
