//! `plaza events …`: the account's event log, its daily aggregates and its retention.

use clap::Subcommand;
use serde_json::{Value, json};

use super::topics::query_string;
use super::{Remote, say, seg};
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
        /// Kinds, comma-separated: inbound_message, follower_event, delivery, http_outbound,
        /// plugin, a plugin event kind (editor.article.read) or a prefix (ads.*).
        #[arg(long, alias = "kinds")]
        kind: Option<String>,
        #[arg(long)]
        openid: Option<String>,
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        /// One line per entry (time, kind, follower, plugin, properties) instead of JSON.
        #[arg(long)]
        lines: bool,
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
        /// Only these kinds (as for `events list`).
        #[arg(long, alias = "kinds")]
        kind: Option<String>,
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
                lines,
                remote,
            } => {
                let page = remote.client()?.get(&format!(
                    "/accounts/{}/events{}",
                    seg(&account),
                    query_string(&[
                        ("from", from),
                        ("to", to),
                        ("kinds", kind),
                        ("openid", openid),
                        ("cursor", cursor),
                        ("limit", limit.map(|l| l.to_string())),
                    ])
                ))?;
                if !lines {
                    return Ok(page);
                }
                for ev in page["events"].as_array().into_iter().flatten() {
                    say(&line(ev));
                }
                if let Some(c) = page["next_cursor"].as_str() {
                    say(&format!("# more: --cursor {c}"));
                }
                Ok(Value::Null)
            }
            EventsCmd::Daily {
                account,
                from,
                to,
                kind,
                remote,
            } => remote.client()?.get(&format!(
                "/accounts/{}/events/daily{}",
                seg(&account),
                query_string(&[("from", from), ("to", to), ("kinds", kind)])
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

/// A value as one shell-like word: as is when plain, else quoted with escapes (so a newline in a
/// property cannot break the one-line-per-entry layout).
fn word(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    {
        s
    } else {
        format!("{s:?}")
    }
}

/// One log entry (as the admin API gives it) on one line: time (UTC), kind/sub-kind, follower,
/// plugin, then the rest as `name=value`.
fn line(ev: &Value) -> String {
    let at = ev["at"]
        .as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| "?".into());
    let kind = ev["kind"].as_str().unwrap_or("?");
    let what = match kind {
        "plugin" => ev["plugin_kind"].as_str().unwrap_or("?").to_string(),
        "http_outbound" => format!(
            "http_outbound {} {}",
            ev["http"]["method"].as_str().unwrap_or("?"),
            ev["http"]["host"].as_str().unwrap_or("?")
        ),
        _ => {
            let sub = ["msg_type", "event", "delivery"].iter().find_map(|f| {
                ev[*f]
                    .as_str()
                    .filter(|_| !(kind == "delivery" && *f == "msg_type"))
            });
            match sub {
                Some(s) => format!("{kind}/{s}"),
                None => kind.to_string(),
            }
        }
    };
    let mut out = format!("{at}  {what}");
    for field in ["openid", "plugin"] {
        if let Some(v) = ev.get(field).filter(|v| !v.is_null()) {
            out.push_str(&format!("  {field}={}", word(v)));
        }
    }
    let mut rest: Vec<(String, &Value)> = Vec::new();
    for field in ["event_key", "message_id"] {
        if let Some(v) = ev.get(field).filter(|v| !v.is_null()) {
            rest.push((field.to_string(), v));
        }
    }
    if kind == "delivery"
        && let Some(v) = ev.get("msg_type").filter(|v| !v.is_null())
    {
        rest.push(("msg_type".into(), v));
    }
    if let Some(h) = ev["http"].as_object() {
        for f in ["status", "error", "duration_ms"] {
            if let Some(v) = h.get(f).filter(|v| !v.is_null()) {
                rest.push((f.to_string(), v));
            }
        }
    }
    if let Some(p) = ev["properties"].as_object() {
        rest.extend(p.iter().map(|(k, v)| (k.clone(), v)));
    }
    for (k, v) in rest {
        out.push_str(&format!("  {}={}", word(&Value::String(k)), word(v)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_as_one_line_each() {
        let plugin = json!({
            "id": "1714577400000-1", "at": 1_714_577_400_000u64, "kind": "plugin",
            "plugin": "editor", "plugin_kind": "editor.article.read", "openid": "o-1",
            "properties": { "article": "a-1", "note": "two\nlines" }
        });
        assert_eq!(
            line(&plugin),
            "2024-05-01T15:30:00.000Z  editor.article.read  openid=o-1  plugin=editor  \
             article=a-1  note=\"two\\nlines\""
        );
        let http = json!({
            "at": 0, "kind": "http_outbound", "plugin": "shop",
            "http": { "method": "GET", "host": "api.example.com:8443", "status": 200, "duration_ms": 12 }
        });
        assert_eq!(
            line(&http),
            "1970-01-01T00:00:00.000Z  http_outbound GET api.example.com:8443  plugin=shop  \
             status=200  duration_ms=12"
        );
        let delivery = json!({
            "at": 0, "kind": "delivery", "delivery": "reply", "msg_type": "text",
            "openid": "o 2", "plugin": "auto-reply", "message_id": "m1"
        });
        assert_eq!(
            line(&delivery),
            "1970-01-01T00:00:00.000Z  delivery/reply  openid=\"o 2\"  plugin=auto-reply  \
             message_id=m1  msg_type=text"
        );
    }
}
