//! `analytics.summary` (asked by other plugins through `plugins::query`, e.g. competitor-analysis):
//! the account's own totals over a range of local days — articles published, reads, shares,
//! likes, new followers, unfollows, and the published titles.

use plaza_sdk::events::{DayCount, LoggedEvent};
use serde::Serialize;

/// The editor's events counted here (reads and shares are in [`crate::articles`]).
pub const LIKE: &str = "editor.article.like";
pub const PUBLISHED: &str = "editor.article.published";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `editor.article.published` events.
    pub posts: u64,
    pub reads: u64,
    pub shares: u64,
    pub likes: u64,
    /// Subscribe events.
    pub new_followers: u64,
    /// Unsubscribe events.
    pub unfollowed: u64,
    /// The `title` of each published article, oldest first.
    pub titles: Vec<String>,
}

/// The summary from the host's daily counts over the range (kinds `follower_event`,
/// `editor.article.*`) and the range's `editor.article.published` entries (for the titles).
pub fn summarize(counts: &[DayCount], published: &[LoggedEvent]) -> Summary {
    let mut s = Summary::default();
    for c in counts {
        match (c.kind.as_str(), c.sub_kind.as_str()) {
            ("follower_event", "subscribe") => s.new_followers += c.count,
            ("follower_event", "unsubscribe") => s.unfollowed += c.count,
            (crate::articles::READ, _) => s.reads += c.count,
            (crate::articles::SHARE, _) => s.shares += c.count,
            (LIKE, _) => s.likes += c.count,
            (PUBLISHED, _) => s.posts += c.count,
            _ => {}
        }
    }
    s.titles = published
        .iter()
        .filter(|e| e.kind == PUBLISHED)
        .filter_map(|e| e.property("title"))
        .map(str::to_string)
        .collect();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use plaza_sdk::events::Property;

    fn count(kind: &str, sub_kind: &str, n: u64) -> DayCount {
        DayCount {
            date: "2026-01-05".into(),
            kind: kind.into(),
            sub_kind: sub_kind.into(),
            count: n,
        }
    }

    #[test]
    fn counts_each_kind_and_keeps_published_titles() {
        let counts = vec![
            count("follower_event", "subscribe", 4),
            count("follower_event", "unsubscribe", 1),
            count("follower_event", "click", 9),
            count("editor.article.read", "", 30),
            count("editor.article.share", "", 3),
            count("editor.article.like", "", 5),
            count("editor.article.published", "", 2),
            count("inbound_message", "text", 7),
        ];
        let published = |title: &str| LoggedEvent {
            id: String::new(),
            at: 0,
            kind: PUBLISHED.into(),
            sub_kind: String::new(),
            openid: None,
            plugin: None,
            properties: vec![Property {
                name: "title".into(),
                value: title.into(),
            }],
        };
        let s = summarize(&counts, &[published("春节指南"), published("Coffee")]);
        assert_eq!(
            s,
            Summary {
                posts: 2,
                reads: 30,
                shares: 3,
                likes: 5,
                new_followers: 4,
                unfollowed: 1,
                titles: vec!["春节指南".into(), "Coffee".into()],
            }
        );
    }
}
