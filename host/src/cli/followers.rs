//! `plaza followers …` and `plaza tags …`: followers, segments and tags.

use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::{Remote, seg};
use crate::error::{PlazaError, Result};

#[derive(Subcommand, Debug)]
pub enum FollowersCmd {
    /// List followers, optionally those matching a segment (e.g. --segment 'tag:vip and active_within 7d').
    List {
        account: String,
        /// A segment expression; see README "Segments".
        #[arg(long)]
        segment: Option<String>,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        /// Follow the cursor to the end and print every page's followers.
        #[arg(long, conflicts_with = "cursor")]
        all: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one follower.
    Get {
        account: String,
        openid: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Set profile fields and attributes of a follower.
    Set {
        account: String,
        openid: String,
        #[arg(long)]
        nickname: Option<String>,
        #[arg(long)]
        region: Option<String>,
        /// male, female, unknown (or empty).
        #[arg(long)]
        gender: Option<String>,
        #[arg(long)]
        language: Option<String>,
        /// Set an attribute: KEY=VALUE (repeatable).
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attrs: Vec<String>,
        /// Remove an attribute (repeatable).
        #[arg(long = "unset-attr", value_name = "KEY")]
        unset: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Totals and distributions by region, gender, language and active hour.
    Stats {
        account: String,
        #[arg(long)]
        segment: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Subcommand, Debug)]
pub enum TagsCmd {
    /// List the account's tags with the number of subscribed followers carrying each.
    List {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Create a tag (at most 100 per account).
    Create {
        account: String,
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Rename a tag, on every follower carrying it too.
    Rename {
        account: String,
        from: String,
        to: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a tag and take it off every follower.
    Delete {
        account: String,
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Tag followers (at most 50 per call; at most 20 tags per follower).
    Tag {
        account: String,
        tag: String,
        #[arg(required = true)]
        openids: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Untag followers (at most 50 per call).
    Untag {
        account: String,
        tag: String,
        #[arg(required = true)]
        openids: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// Percent-encodes a path segment or query value (tag names may be any Unicode text).
pub(super) fn encode(s: &str) -> String {
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

fn query(params: &[(&str, Option<String>)]) -> String {
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

pub(super) fn pair(s: &str, what: &str) -> Result<(String, String)> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| PlazaError::invalid(format!("{what} {s:?} must be written NAME=VALUE")))
}

impl FollowersCmd {
    pub fn run(self) -> Result<Value> {
        match self {
            FollowersCmd::List {
                account,
                segment,
                cursor,
                limit,
                all,
                remote,
            } => {
                let client = remote.client()?;
                let path = |cursor: Option<String>| {
                    format!(
                        "/accounts/{}/followers{}",
                        seg(&account),
                        query(&[
                            ("segment", segment.clone()),
                            ("cursor", cursor),
                            ("limit", limit.map(|l| l.to_string())),
                        ])
                    )
                };
                if !all {
                    return client.get(&path(cursor));
                }
                let mut followers = Vec::new();
                let mut cursor = None;
                loop {
                    let page = client.get(&path(cursor))?;
                    if let Some(items) = page["followers"].as_array() {
                        followers.extend(items.iter().cloned());
                    }
                    match page["next_cursor"].as_str() {
                        Some(next) => cursor = Some(next.to_string()),
                        None => return Ok(json!({ "followers": followers })),
                    }
                }
            }
            FollowersCmd::Get {
                account,
                openid,
                remote,
            } => remote.client()?.get(&format!(
                "/accounts/{}/followers/{}",
                seg(&account),
                encode(&openid)
            )),
            FollowersCmd::Set {
                account,
                openid,
                nickname,
                region,
                gender,
                language,
                attrs,
                unset,
                remote,
            } => {
                let mut body = Map::new();
                for (k, v) in [
                    ("nickname", nickname),
                    ("region", region),
                    ("gender", gender),
                    ("language", language),
                ] {
                    if let Some(v) = v {
                        body.insert(k.into(), Value::String(v));
                    }
                }
                let mut attributes = Map::new();
                for a in &attrs {
                    let (k, v) = pair(a, "--attr")?;
                    attributes.insert(k, Value::String(v));
                }
                for k in unset {
                    attributes.insert(k, Value::Null);
                }
                if !attributes.is_empty() {
                    body.insert("attributes".into(), Value::Object(attributes));
                }
                remote.client()?.patch(
                    &format!("/accounts/{}/followers/{}", seg(&account), encode(&openid)),
                    &Value::Object(body),
                )
            }
            FollowersCmd::Stats {
                account,
                segment,
                remote,
            } => remote.client()?.get(&format!(
                "/accounts/{}/followers/stats{}",
                seg(&account),
                query(&[("segment", segment)])
            )),
        }
    }
}

impl TagsCmd {
    pub fn run(self) -> Result<Value> {
        match self {
            TagsCmd::List { account, remote } => remote
                .client()?
                .get(&format!("/accounts/{}/tags", seg(&account))),
            TagsCmd::Create {
                account,
                name,
                remote,
            } => remote.client()?.post(
                &format!("/accounts/{}/tags", seg(&account)),
                &json!({ "name": name }),
            ),
            TagsCmd::Rename {
                account,
                from,
                to,
                remote,
            } => remote.client()?.patch(
                &format!("/accounts/{}/tags/{}", seg(&account), encode(&from)),
                &json!({ "name": to }),
            ),
            TagsCmd::Delete {
                account,
                name,
                remote,
            } => remote.client()?.delete(&format!(
                "/accounts/{}/tags/{}",
                seg(&account),
                encode(&name)
            )),
            TagsCmd::Tag {
                account,
                tag,
                openids,
                remote,
            } => remote.client()?.post(
                &format!("/accounts/{}/tags/{}/tag", seg(&account), encode(&tag)),
                &json!({ "openids": openids }),
            ),
            TagsCmd::Untag {
                account,
                tag,
                openids,
                remote,
            } => remote.client()?.post(
                &format!("/accounts/{}/tags/{}/untag", seg(&account), encode(&tag)),
                &json!({ "openids": openids }),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(encode("big spender"), "big%20spender");
        assert_eq!(encode("会员"), "%E4%BC%9A%E5%91%98");
        assert_eq!(encode("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(
            query(&[("segment", Some("tag:vip and x".into())), ("cursor", None)]),
            "?segment=tag%3Avip%20and%20x"
        );
        assert_eq!(query(&[("cursor", None)]), "");
    }

    #[test]
    fn pairs() {
        assert_eq!(
            pair("level=gold=x", "--attr").unwrap(),
            ("level".to_string(), "gold=x".to_string())
        );
        assert_eq!(pair("level", "--attr").unwrap_err().code(), "invalid");
    }
}
