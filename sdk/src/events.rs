//! The account's event log: what happened (messages, follower events, deliveries, outbound HTTP,
//! plugin events), read with filters and as daily counts the host computes — so analytics never
//! streams millions of entries through the plugin. Reading needs `events.read`; [`emit`] needs
//! `events.emit`.

use crate::__private::plaza::platform::events as wit;
use crate::{Error, Timestamp};

pub use wit::{DayCount, Filter, LoggedEvent, Page, Property};

/// Entries matching `filter`, oldest first, up to `limit`; pass `next_cursor` back to continue.
pub fn query(filter: &Filter, cursor: Option<&str>, limit: u32) -> Result<Page, Error> {
    wit::query(filter, cursor, limit)
}

/// Counts per day (`YYYY-MM-DD`, in the account's timezone, `from` and `to` inclusive), kind and
/// sub-kind. `kinds` selects as in [`Filter::kinds`] (`"ads.*"` for every kind starting `ads.`).
pub fn daily(from: &str, to: &str, kinds: &[&str]) -> Result<Vec<DayCount>, Error> {
    let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
    wit::daily(from, to, &kinds)
}

/// Records a plugin event `kind`, which must start with this plugin's name and a dot
/// (`editor.article.read` from the plugin `editor`); returns the entry id.
pub fn emit(
    kind: &str,
    openid: Option<&str>,
    properties: &[(&str, &str)],
) -> Result<String, Error> {
    let properties: Vec<Property> = properties
        .iter()
        .map(|(name, value)| Property {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect();
    wit::emit(kind, openid, &properties)
}

impl Filter {
    /// Every entry (no kind, follower or time restriction).
    pub fn all() -> Self {
        Filter {
            kinds: Vec::new(),
            openid: None,
            since: None,
            until: None,
        }
    }

    /// Only these kinds (`"inbound_message"`, `"editor.article.read"`, `"ads.*"` …).
    pub fn kinds(mut self, kinds: &[&str]) -> Self {
        self.kinds = kinds.iter().map(|k| k.to_string()).collect();
        self
    }

    /// Only entries about this follower.
    pub fn follower(mut self, openid: &str) -> Self {
        self.openid = Some(openid.to_string());
        self
    }

    /// Only entries at or after `since` and before `until` (ms since the epoch).
    pub fn between(mut self, since: Option<Timestamp>, until: Option<Timestamp>) -> Self {
        self.since = since;
        self.until = until;
        self
    }
}

impl LoggedEvent {
    /// A property's value.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }
}

/// Every entry matching `filter`, oldest first, fetched a page at a time as the iterator
/// advances (the host's scan budget per page is handled by following the cursor). A failing
/// page ends the iteration with that error. For counts per day use [`daily`]: it is computed in
/// the host and far cheaper than reading entries.
pub fn query_all(filter: Filter) -> impl Iterator<Item = Result<LoggedEvent, Error>> {
    crate::paging::pages(move |cursor| {
        let page = query(&filter, cursor, 500)?;
        Ok((page.items, page.next_cursor))
    })
}
