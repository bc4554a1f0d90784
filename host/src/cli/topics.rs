//! `plaza topics …`: topic deliveries waiting, the dead-letter list, replay and discard.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Remote, seg};
use crate::error::{PlazaError, Result};

#[derive(Subcommand, Debug)]
pub enum TopicsCmd {
    /// List topic deliveries still waiting to reach their subscriber (with attempts so far).
    Pending {
        account: String,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the account's dead letters: deliveries given up on after the maximum attempts.
    DeadLetters {
        account: String,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Re-queue a dead letter (or all with --all), with its attempt count reset.
    Replay {
        account: String,
        /// The dead letter's id (see `plaza topics dead-letters`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Replay every dead letter of the account.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a dead letter for good.
    Discard {
        account: String,
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

/// `?name=value&…` of the parameters that are set, percent-encoded.
pub(super) fn query_string(params: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl TopicsCmd {
    pub fn run(self) -> Result<Value> {
        match self {
            TopicsCmd::Pending {
                account,
                cursor,
                limit,
                remote,
            } => remote.client()?.get(&format!(
                "/accounts/{}/topic-deliveries{}",
                seg(&account),
                query_string(&[("cursor", cursor), ("limit", limit.map(|l| l.to_string()))])
            )),
            TopicsCmd::DeadLetters {
                account,
                cursor,
                limit,
                remote,
            } => remote.client()?.get(&format!(
                "/accounts/{}/dead-letters{}",
                seg(&account),
                query_string(&[("cursor", cursor), ("limit", limit.map(|l| l.to_string()))])
            )),
            TopicsCmd::Replay {
                account,
                id,
                all,
                remote,
            } => {
                let path = match (id, all) {
                    (_, true) => format!("/accounts/{}/dead-letters/replay", seg(&account)),
                    (Some(id), false) => {
                        format!(
                            "/accounts/{}/dead-letters/{}/replay",
                            seg(&account),
                            seg(&id)
                        )
                    }
                    (None, false) => {
                        return Err(PlazaError::invalid("name a dead letter id, or pass --all"));
                    }
                };
                remote.client()?.post(&path, &json!({}))
            }
            TopicsCmd::Discard {
                account,
                id,
                remote,
            } => remote.client()?.delete(&format!(
                "/accounts/{}/dead-letters/{}",
                seg(&account),
                seg(&id)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_strings_are_encoded() {
        assert_eq!(super::query_string(&[("a", None)]), "");
        assert_eq!(
            super::query_string(&[
                ("from", Some("2024-05-01T00:00:00+08:00".into())),
                ("kind", Some("delivery".into()))
            ]),
            "?from=2024-05-01T00%3A00%3A00%2B08%3A00&kind=delivery"
        );
    }
}
