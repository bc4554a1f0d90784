//! Articles, their edit versions and the published history: the data model and the pure rules
//! (validation, what a save changes, the history index). Storage is in [`crate::store`].

use plaza_sdk::Error;
use serde::{Deserialize, Serialize};

/// Longest title (characters), as WeChat allows for a news article.
pub const MAX_TITLE: usize = 64;
/// Longest digest (characters).
pub const MAX_DIGEST: usize = 120;
/// Longest author name (characters).
pub const MAX_AUTHOR: usize = 16;
/// Entries kept in the history index (the public 历史消息 page shows them newest first).
pub const MAX_HISTORY: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Draft,
    /// A broadcast is scheduled for `scheduled_for`; the article is published then.
    Scheduled,
    Published,
}

/// An article and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Article {
    pub id: String,
    pub title: String,
    /// Cover image: a media id.
    #[serde(default)]
    pub cover: Option<String>,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub author: String,
    /// Sanitised HTML with short codes in its text.
    #[serde(default)]
    pub body: String,
    pub created_at: u64,
    pub updated_at: u64,
    /// The latest saved version (1 on creation).
    pub version: u32,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub published_at: Option<u64>,
    #[serde(default)]
    pub scheduled_for: Option<u64>,
    /// How many times it was sent as a broadcast (the idempotency key counts them).
    #[serde(default)]
    pub publications: u32,
    #[serde(default)]
    pub featured: bool,
}

/// The editable fields, as a create or update request sends them (absent = unchanged).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub title: Option<String>,
    pub cover: Option<Option<String>>,
    pub digest: Option<String>,
    pub author: Option<String>,
    pub body: Option<String>,
    /// Optimistic concurrency: the version the editor started from; `conflict` if it moved on.
    pub base_version: Option<u32>,
}

/// One saved version of an article's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub version: u32,
    pub saved_at: u64,
    pub title: String,
    pub cover: Option<String>,
    pub digest: String,
    pub author: String,
    pub body: String,
}

impl Version {
    pub fn of(a: &Article) -> Version {
        Version {
            version: a.version,
            saved_at: a.updated_at,
            title: a.title.clone(),
            cover: a.cover.clone(),
            digest: a.digest.clone(),
            author: a.author.clone(),
            body: a.body.clone(),
        }
    }
}

/// A published article in the history index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: String,
    pub title: String,
    pub digest: String,
    pub cover: Option<String>,
    pub published_at: u64,
    pub featured: bool,
}

impl HistoryEntry {
    pub fn of(a: &Article) -> HistoryEntry {
        HistoryEntry {
            id: a.id.clone(),
            title: a.title.clone(),
            digest: a.digest.clone(),
            cover: a.cover.clone(),
            published_at: a.published_at.unwrap_or(a.updated_at),
            featured: a.featured,
        }
    }
}

/// An id given by a client (article or media): 1-64 of `[A-Za-z0-9_-]`.
pub fn check_id(what: &str, id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} {id:?} must be 1-64 letters, digits, '-' or '_'"
        )))
    }
}

fn check_len(what: &str, value: &str, max: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if n > max {
        return Err(Error::invalid(format!(
            "{what} has {n} characters; at most {max}"
        )));
    }
    Ok(())
}

/// `edit` applied to `article` (already sanitised body), as a new version saved at `now`.
/// Checks every field; nothing changes on error.
pub fn apply(article: &Article, edit: Edit, now: u64) -> Result<Article, Error> {
    if let Some(base) = edit.base_version
        && base != article.version
    {
        return Err(Error::conflict(format!(
            "article {:?} is at version {} now, not {base}: reload it and apply your edit again",
            article.id, article.version
        )));
    }
    let mut next = article.clone();
    if let Some(title) = edit.title {
        next.title = title.trim().to_string();
    }
    if let Some(cover) = edit.cover {
        if let Some(id) = &cover {
            check_id("cover media id", id)?;
        }
        next.cover = cover;
    }
    if let Some(digest) = edit.digest {
        next.digest = digest.trim().to_string();
    }
    if let Some(author) = edit.author {
        next.author = author.trim().to_string();
    }
    if let Some(body) = edit.body {
        next.body = body;
    }
    if next.title.is_empty() {
        return Err(Error::invalid("an article needs a title"));
    }
    check_len("title", &next.title, MAX_TITLE)?;
    check_len("digest", &next.digest, MAX_DIGEST)?;
    check_len("author", &next.author, MAX_AUTHOR)?;
    next.version = article.version + 1;
    next.updated_at = now;
    Ok(next)
}

/// The history with `entry` in place of any older entry for the same article, newest first,
/// at most [`MAX_HISTORY`] entries.
pub fn history_with(mut history: Vec<HistoryEntry>, entry: HistoryEntry) -> Vec<HistoryEntry> {
    history.retain(|e| e.id != entry.id);
    history.push(entry);
    history.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(a.id.cmp(&b.id)));
    history.truncate(MAX_HISTORY);
    history
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article() -> Article {
        Article {
            id: "a1".into(),
            title: "T".into(),
            version: 1,
            ..Article::default()
        }
    }

    #[test]
    fn edits_are_checked_and_versioned() {
        let a = article();
        let next = apply(
            &a,
            Edit {
                title: Some(" 新标题 ".into()),
                base_version: Some(1),
                ..Edit::default()
            },
            5,
        )
        .unwrap();
        assert_eq!(
            (next.title.as_str(), next.version, next.updated_at),
            ("新标题", 2, 5)
        );
        let stale = Edit {
            base_version: Some(0),
            ..Edit::default()
        };
        assert_eq!(apply(&a, stale, 5).unwrap_err().code(), "conflict");
        for bad in [
            Edit {
                title: Some(" ".into()),
                ..Edit::default()
            },
            Edit {
                title: Some("长".repeat(65)),
                ..Edit::default()
            },
            Edit {
                cover: Some(Some("../x".into())),
                ..Edit::default()
            },
            Edit {
                author: Some("a".repeat(17)),
                ..Edit::default()
            },
        ] {
            assert_eq!(apply(&a, bad, 5).unwrap_err().code(), "invalid");
        }
    }

    #[test]
    fn history_is_newest_first_without_duplicates() {
        let e = |id: &str, at| HistoryEntry {
            id: id.into(),
            title: id.into(),
            digest: String::new(),
            cover: None,
            published_at: at,
            featured: false,
        };
        let h = history_with(vec![e("a", 1), e("b", 3)], e("c", 2));
        let h = history_with(h, e("a", 4));
        let ids: Vec<&str> = h.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
