//! Storage of articles, versions, the history index and the preview key (this plugin's own
//! namespace on the account).
//!
//! Keys: `article/{id}` (the article, body included), `version/{id}/{n:010}` (each saved
//! version), `history` (the compact index of published articles the public pages read, so they
//! never scan every article), `seq` (article id counter), `preview-key` (the HMAC key of preview
//! links), `read/{id}/{day}/{openid}` (a follower's read already counted that day),
//! `like/{id}/{openid}` and `likes/{id}` (one like per follower, and the count).

use plaza_sdk::storage::{self, BatchOutcome, Check, Write};
use plaza_sdk::{Error, Result};

use crate::article::{Article, HistoryEntry, Version, history_with};

pub fn article_key(id: &str) -> String {
    format!("article/{id}")
}

fn version_prefix(id: &str) -> String {
    format!("version/{id}/")
}

fn version_key(id: &str, v: u32) -> String {
    format!("version/{id}/{v:010}")
}

pub fn load(id: &str) -> Result<Article> {
    storage::get_json(&article_key(id))?
        .ok_or_else(|| Error::not_found(format!("no article {id:?}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(format!("cannot encode: {e}")))
}

/// Stores a new article (absent before) with its first version, atomically.
pub fn create(article: &Article) -> Result<()> {
    let outcome = storage::batch(
        &[Check::absent(article_key(&article.id))],
        &[
            Write::set(article_key(&article.id), encode(article)?),
            Write::set(
                version_key(&article.id, article.version),
                encode(&Version::of(article))?,
            ),
        ],
    )?;
    match outcome {
        BatchOutcome::Applied => Ok(()),
        BatchOutcome::CheckFailed(_) => Err(Error::conflict(format!(
            "an article {:?} exists already",
            article.id
        ))),
    }
}

/// Replaces `before` by `after` if nobody changed it meanwhile (else `conflict`); a new
/// version is written when `after.version` moved on. Old versions beyond `keep` are dropped.
pub fn replace(before: &Article, after: &Article, keep: u32) -> Result<()> {
    let mut writes = vec![Write::set(article_key(&after.id), encode(after)?)];
    if after.version != before.version {
        writes.push(Write::set(
            version_key(&after.id, after.version),
            encode(&Version::of(after))?,
        ));
    }
    let outcome = storage::batch(
        &[Check::equals(article_key(&before.id), encode(before)?)],
        &writes,
    )?;
    if let BatchOutcome::CheckFailed(_) = outcome {
        return Err(Error::conflict(format!(
            "article {:?} changed while saving; reload it and try again",
            before.id
        )));
    }
    if after.version != before.version && after.version > keep {
        // Best effort: a version left behind by a failed delete is only extra history.
        let oldest_kept = after.version - keep + 1;
        for old in versions(&after.id)? {
            if old.0 < oldest_kept {
                let _ = storage::delete(&version_key(&after.id, old.0));
            }
        }
    }
    Ok(())
}

/// The saved versions (number, saved at, title), oldest first.
pub fn versions(id: &str) -> Result<Vec<(u32, u64, String)>> {
    let mut out = Vec::new();
    for entry in storage::scan_prefix_json::<Version>(&version_prefix(id)) {
        let (_, v) = entry?;
        out.push((v.version, v.saved_at, v.title));
    }
    Ok(out)
}

pub fn version(id: &str, v: u32) -> Result<Version> {
    storage::get_json(&version_key(id, v))?
        .ok_or_else(|| Error::not_found(format!("article {id:?} has no version {v}")))
}

/// Every article (operator list), newest change first.
pub fn all() -> Result<Vec<Article>> {
    let mut out = Vec::new();
    for entry in storage::scan_prefix_json::<Article>("article/") {
        out.push(entry?.1);
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.updated_at));
    Ok(out)
}

/// Removes an article, its versions and its history entry.
pub fn delete(id: &str) -> Result<()> {
    if !storage::delete(&article_key(id))? {
        return Err(Error::not_found(format!("no article {id:?}")));
    }
    for v in versions(id)? {
        storage::delete(&version_key(id, v.0))?;
    }
    history_update(|h| h.into_iter().filter(|e| e.id != id).collect())?;
    Ok(())
}

pub fn history() -> Result<Vec<HistoryEntry>> {
    Ok(storage::get_json("history")?.unwrap_or_default())
}

pub fn history_update(f: impl Fn(Vec<HistoryEntry>) -> Vec<HistoryEntry>) -> Result<()> {
    storage::update_json("history", |h: Option<Vec<HistoryEntry>>| {
        Ok(Some(f(h.unwrap_or_default())))
    })?;
    Ok(())
}

/// Puts (or refreshes) a published article in the history index.
pub fn history_put(article: &Article) -> Result<()> {
    let entry = HistoryEntry::of(article);
    history_update(|h| history_with(h, entry.clone()))
}

/// The next article id (`a1`, `a2`, …).
pub fn next_id() -> Result<String> {
    Ok(format!("a{}", storage::increment("seq", 1)?))
}

/// The key that signs preview links: this installation's own, created on first use.
pub fn preview_key() -> Result<plaza_sdk::signing::Key> {
    plaza_sdk::signing::Key::installation("preview-key")
}

/// True the first time `openid` reads `article` on `day`.
pub fn first_read(article: &str, day: &str, openid: &str) -> Result<bool> {
    storage::compare_and_swap(&format!("read/{article}/{day}/{openid}"), None, Some(b"1"))
}

/// Records a like (once per follower; anonymous likes always count) and returns the count.
pub fn like(article: &str, openid: Option<&str>) -> Result<(bool, i64)> {
    let counter = format!("likes/{article}");
    let Some(openid) = openid else {
        return Ok((true, storage::increment(&counter, 1)?));
    };
    let marker = format!("like/{article}/{openid}");
    let outcome = storage::batch(
        &[Check::absent(marker.clone())],
        &[
            Write::set(marker, b"1".to_vec()),
            Write::increment(counter.clone(), 1),
        ],
    )?;
    Ok((outcome == BatchOutcome::Applied, likes(article)?))
}

pub fn likes(article: &str) -> Result<i64> {
    Ok(storage::get_string(&format!("likes/{article}"))?
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0))
}
