//! Follower tags: a registry per account (create, rename, delete, list with counts) and batch tagging.
//!
//! The platform's limits apply: at most [`MAX_TAGS_PER_ACCOUNT`] tags per account, at most
//! [`MAX_TAGS_PER_FOLLOWER`] tags per follower, at most [`MAX_TAG_BATCH`] followers per tag/untag
//! call. A tag must exist in the registry before anyone (operator or plugin) can put it on a
//! follower; deleting a tag takes it off every follower. Operators and plugins go through the same
//! functions here, so the rules cannot differ between the admin API and the WIT `followers` import.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::followers::{Follower, FollowerStore, MAX_TAGS_PER_FOLLOWER};
use crate::error::{PlazaError, Result};
use crate::storage::backend::{Tree, key, prefix};

/// Tags one account may define (the platform's own limit).
pub const MAX_TAGS_PER_ACCOUNT: usize = 100;
/// Followers one tag or untag call may name (the platform's batch size).
pub const MAX_TAG_BATCH: usize = 50;
/// Longest tag name, in characters.
pub const MAX_TAG_NAME: usize = 30;

/// A tag in an account's registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub created_at: u64,
}

/// A tag with the number of subscribed followers carrying it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagInfo {
    pub name: String,
    pub created_at: u64,
    pub followers: u64,
}

/// Tag names are 1-30 characters, without control characters, double quotes or backslashes, and
/// without surrounding whitespace (so that they can be written in segments, quoted when needed).
pub fn validate_tag_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0
        || n > MAX_TAG_NAME
        || name.trim() != name
        || name
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(PlazaError::invalid(format!(
            "tag name {name:?} must be 1-{MAX_TAG_NAME} characters without control characters, \
             quotes or backslashes, and without leading or trailing spaces"
        )));
    }
    Ok(())
}

/// The registry itself: `(account, name) → Tag`.
pub struct TagRegistry {
    tree: Arc<dyn Tree>,
}

impl TagRegistry {
    pub fn new(tree: Arc<dyn Tree>) -> Self {
        TagRegistry { tree }
    }

    pub fn list(&self, account: &str) -> Result<Vec<Tag>> {
        self.tree
            .scan_prefix(&prefix(&[account]), None, usize::MAX)?
            .into_iter()
            .map(|(_, v)| Ok(serde_json::from_slice(&v)?))
            .collect()
    }

    pub fn get(&self, account: &str, name: &str) -> Result<Option<Tag>> {
        validate_tag_name(name)?;
        self.tree
            .get(&key(&[account, name]))?
            .map(|b| Ok(serde_json::from_slice(&b)?))
            .transpose()
    }

    /// The tag, or `NotFound` saying how to create it.
    pub fn require(&self, account: &str, name: &str) -> Result<Tag> {
        self.get(account, name)?.ok_or_else(|| {
            PlazaError::not_found(format!(
                "tag {name:?} does not exist on account {account:?}; create it first"
            ))
        })
    }

    fn insert(&self, account: &str, tag: &Tag) -> Result<bool> {
        self.tree.compare_and_swap(
            &key(&[account, &tag.name]),
            None,
            Some(&serde_json::to_vec(tag)?),
        )
    }

    fn remove(&self, account: &str, name: &str) -> Result<()> {
        self.tree.remove(&key(&[account, name]))?;
        Ok(())
    }
}

/// Checks a batch of openids and drops repeats (keeping the first occurrence's order).
fn batch(ids: &[String]) -> Result<Vec<&str>> {
    if ids.is_empty() {
        return Err(PlazaError::invalid("name at least one openid"));
    }
    if ids.len() > MAX_TAG_BATCH {
        return Err(PlazaError::TooLarge(format!(
            "{} openids in one call; the limit is {MAX_TAG_BATCH}",
            ids.len()
        )));
    }
    let mut seen = BTreeSet::new();
    Ok(ids
        .iter()
        .map(String::as_str)
        .filter(|id| seen.insert(*id))
        .collect())
}

fn quote_list(ids: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut s = ids
        .iter()
        .take(SHOWN)
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        s.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    s
}

impl FollowerStore {
    fn read_lock(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>> {
        self.tag_lock
            .read()
            .map_err(|_| PlazaError::internal("tag lock poisoned"))
    }

    fn write_lock(&self) -> Result<std::sync::RwLockWriteGuard<'_, ()>> {
        self.tag_lock
            .write()
            .map_err(|_| PlazaError::internal("tag lock poisoned"))
    }

    /// The tag from the account's registry, or `NotFound` (e.g. for a broadcast audience `tag:X`).
    pub fn require_tag(&self, account: &str, name: &str) -> Result<Tag> {
        self.tags.require(account, name)
    }

    /// The account's tags in name order, each with the number of subscribed followers carrying it.
    pub fn list_tags(&self, account: &str) -> Result<Vec<TagInfo>> {
        let tags = self.tags.list(account)?;
        let mut counts: BTreeMap<String, u64> = tags.iter().map(|t| (t.name.clone(), 0)).collect();
        self.for_each(account, &mut |f| {
            if f.subscribed {
                for t in &f.tags {
                    if let Some(c) = counts.get_mut(t) {
                        *c += 1;
                    }
                }
            }
            Ok(())
        })?;
        Ok(tags
            .into_iter()
            .map(|t| TagInfo {
                followers: counts.get(&t.name).copied().unwrap_or(0),
                name: t.name,
                created_at: t.created_at,
            })
            .collect())
    }

    pub fn create_tag(&self, account: &str, name: &str, now: u64) -> Result<Tag> {
        validate_tag_name(name)?;
        let _guard = self.write_lock()?;
        let existing = self.tags.list(account)?;
        if existing.iter().any(|t| t.name == name) {
            return Err(PlazaError::Conflict(format!(
                "tag {name:?} already exists on account {account:?}"
            )));
        }
        if existing.len() >= MAX_TAGS_PER_ACCOUNT {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "account {account:?} already has {MAX_TAGS_PER_ACCOUNT} tags, the most an account may have; delete one first"
                ),
                resets_at: None,
            });
        }
        let tag = Tag {
            name: name.to_string(),
            created_at: now,
        };
        if !self.tags.insert(account, &tag)? {
            return Err(PlazaError::Conflict(format!(
                "tag {name:?} already exists on account {account:?}"
            )));
        }
        Ok(tag)
    }

    /// Renames a tag in the registry and on every follower carrying it.
    pub fn rename_tag(&self, account: &str, from: &str, to: &str) -> Result<Tag> {
        validate_tag_name(to)?;
        let _guard = self.write_lock()?;
        let old = self.tags.require(account, from)?;
        if from == to {
            return Ok(old);
        }
        let tag = Tag {
            name: to.to_string(),
            created_at: old.created_at,
        };
        if !self.tags.insert(account, &tag)? {
            return Err(PlazaError::Conflict(format!(
                "tag {to:?} already exists on account {account:?}"
            )));
        }
        self.retag_everyone(account, from, Some(to))?;
        self.tags.remove(account, from)?;
        Ok(tag)
    }

    /// Deletes a tag: takes it off every follower, then out of the registry (so a delete cut short
    /// by a crash can simply be repeated). Returns how many followers carried it.
    pub fn delete_tag(&self, account: &str, name: &str) -> Result<u64> {
        let _guard = self.write_lock()?;
        self.tags.require(account, name)?;
        let n = self.retag_everyone(account, name, None)?;
        self.tags.remove(account, name)?;
        Ok(n)
    }

    /// Replaces (or with `None` removes) tag `from` on every follower of the account.
    fn retag_everyone(&self, account: &str, from: &str, to: Option<&str>) -> Result<u64> {
        let mut carriers = Vec::new();
        self.for_each(account, &mut |f| {
            if f.tags.iter().any(|t| t == from) {
                carriers.push(f.openid.clone());
            }
            Ok(())
        })?;
        for openid in &carriers {
            self.modify(account, openid, &mut |f| {
                match to {
                    Some(to) if !f.tags.iter().any(|t| t == to) => {
                        for t in f.tags.iter_mut().filter(|t| *t == from) {
                            *t = to.to_string();
                        }
                    }
                    _ => f.tags.retain(|t| t != from),
                }
                Ok(())
            })?;
        }
        Ok(carriers.len() as u64)
    }

    /// Puts `tag` on each follower named (at most [`MAX_TAG_BATCH`]). All or nothing as far as
    /// checks go: an unknown tag or openid is `NotFound`, and a follower already carrying
    /// [`MAX_TAGS_PER_FOLLOWER`] other tags is `QuotaExceeded`, before anyone is tagged. Followers
    /// who already carry the tag are left as they are. Returns the followers as they are now.
    pub fn tag_many(&self, account: &str, ids: &[String], tag: &str) -> Result<Vec<Follower>> {
        let ids = batch(ids)?;
        let _guard = self.read_lock()?;
        self.tags.require(account, tag)?;
        let mut missing = Vec::new();
        let mut full = Vec::new();
        for id in &ids {
            match self.get(account, id) {
                Ok(f) => {
                    if !f.tags.iter().any(|t| t == tag) && f.tags.len() >= MAX_TAGS_PER_FOLLOWER {
                        full.push(*id);
                    }
                }
                Err(PlazaError::NotFound(_)) => missing.push(*id),
                Err(e) => return Err(e),
            }
        }
        if !missing.is_empty() {
            return Err(PlazaError::not_found(format!(
                "no follower {} on account {account:?}; nobody was tagged",
                quote_list(&missing)
            )));
        }
        if !full.is_empty() {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "follower {} already has {MAX_TAGS_PER_FOLLOWER} tags, the most a follower may have; nobody was tagged",
                    quote_list(&full)
                ),
                resets_at: None,
            });
        }
        ids.iter()
            .map(|id| {
                self.modify(account, id, &mut |f| {
                    if f.tags.iter().any(|t| t == tag) {
                        return Ok(());
                    }
                    if f.tags.len() >= MAX_TAGS_PER_FOLLOWER {
                        return Err(PlazaError::QuotaExceeded {
                            message: format!(
                                "follower {id:?} already has {MAX_TAGS_PER_FOLLOWER} tags, the most a follower may have"
                            ),
                            resets_at: None,
                        });
                    }
                    f.tags.push(tag.to_string());
                    Ok(())
                })
            })
            .collect()
    }

    /// Takes `tag` off each follower named (at most [`MAX_TAG_BATCH`]); unknown tag or openid is
    /// `NotFound` before anyone is changed.
    pub fn untag_many(&self, account: &str, ids: &[String], tag: &str) -> Result<Vec<Follower>> {
        let ids = batch(ids)?;
        let _guard = self.read_lock()?;
        self.tags.require(account, tag)?;
        let mut missing = Vec::new();
        for id in &ids {
            match self.get(account, id) {
                Ok(_) => {}
                Err(PlazaError::NotFound(_)) => missing.push(*id),
                Err(e) => return Err(e),
            }
        }
        if !missing.is_empty() {
            return Err(PlazaError::not_found(format!(
                "no follower {} on account {account:?}; nobody was untagged",
                quote_list(&missing)
            )));
        }
        ids.iter()
            .map(|id| {
                self.modify(account, id, &mut |f| {
                    f.tags.retain(|t| t != tag);
                    Ok(())
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::followers::Touch;
    use crate::storage::{Backend, SledBackend};

    fn store() -> (tempfile::TempDir, FollowerStore) {
        let dir = tempfile::tempdir().unwrap();
        let b = SledBackend::open(dir.path()).unwrap();
        let s = FollowerStore::new(b.tree("followers").unwrap(), b.tree("tags").unwrap());
        (dir, s)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn follow(s: &FollowerStore, account: &str, id: &str) {
        s.touch(account, id, Touch::Subscribe { scene: None }, 1)
            .unwrap();
    }

    #[test]
    fn names_are_validated() {
        for ok in ["vip", "会员", "big spender", "a-b_c.d:e", &"x".repeat(30)] {
            validate_tag_name(ok).unwrap();
        }
        for bad in [
            "",
            " vip",
            "vip ",
            "a\"b",
            "a\\b",
            "a\nb",
            "a\0b",
            &"x".repeat(31),
        ] {
            assert_eq!(
                validate_tag_name(bad).unwrap_err().code(),
                "invalid",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tagging_needs_a_registered_tag_and_respects_limits() {
        let (_d, s) = store();
        follow(&s, "a", "o-1");
        follow(&s, "a", "o-2");
        let e = s.tag_many("a", &ids(&["o-1"]), "vip").unwrap_err();
        assert_eq!(e.code(), "not_found");
        assert!(e.message().contains("create it first"), "{e}");
        s.create_tag("a", "vip", 1).unwrap();
        assert_eq!(s.create_tag("a", "vip", 1).unwrap_err().code(), "conflict");
        // A tag of another account does not count.
        assert_eq!(
            s.tag_many("b", &ids(&["o-1"]), "vip").unwrap_err().code(),
            "not_found"
        );
        // Unknown openid: nobody is tagged.
        let e = s.tag_many("a", &ids(&["o-1", "o-404"]), "vip").unwrap_err();
        assert_eq!(e.code(), "not_found");
        assert!(e.message().contains("o-404"), "{e}");
        assert!(s.get("a", "o-1").unwrap().tags.is_empty());
        let tagged = s
            .tag_many("a", &ids(&["o-1", "o-2", "o-1"]), "vip")
            .unwrap();
        assert_eq!(tagged.len(), 2);
        // Idempotent.
        s.tag_many("a", &ids(&["o-1"]), "vip").unwrap();
        assert_eq!(s.get("a", "o-1").unwrap().tags, ["vip"]);
        // Batch size.
        let many: Vec<String> = (0..51).map(|i| format!("o-{i}")).collect();
        assert_eq!(
            s.tag_many("a", &many, "vip").unwrap_err().code(),
            "too_large"
        );
        assert_eq!(s.tag_many("a", &[], "vip").unwrap_err().code(), "invalid");
        // Per follower: 20.
        for i in 1..MAX_TAGS_PER_FOLLOWER {
            let t = format!("t{i}");
            s.create_tag("a", &t, 1).unwrap();
            s.tag_many("a", &ids(&["o-1"]), &t).unwrap();
        }
        assert_eq!(s.get("a", "o-1").unwrap().tags.len(), MAX_TAGS_PER_FOLLOWER);
        s.create_tag("a", "one-more", 1).unwrap();
        let e = s
            .tag_many("a", &ids(&["o-2", "o-1"]), "one-more")
            .unwrap_err();
        assert_eq!(e.code(), "quota_exceeded");
        assert!(e.message().contains("\"o-1\""), "{e}");
        assert!(
            !s.get("a", "o-2").unwrap().tags.contains(&"one-more".into()),
            "all or nothing"
        );
        // Re-tagging with a tag already carried is fine at the limit.
        s.tag_many("a", &ids(&["o-1"]), "vip").unwrap();
        s.untag_many("a", &ids(&["o-1"]), "t1").unwrap();
        s.tag_many("a", &ids(&["o-1"]), "one-more").unwrap();
    }

    #[test]
    fn an_account_has_at_most_100_tags() {
        let (_d, s) = store();
        for i in 0..MAX_TAGS_PER_ACCOUNT {
            s.create_tag("a", &format!("t{i}"), 1).unwrap();
        }
        let e = s.create_tag("a", "t100", 1).unwrap_err();
        assert_eq!(e.code(), "quota_exceeded");
        s.create_tag("b", "t100", 1).unwrap();
        s.delete_tag("a", "t0").unwrap();
        s.create_tag("a", "t100", 1).unwrap();
    }

    #[test]
    fn rename_and_delete_reach_every_follower() {
        let (_d, s) = store();
        for id in ["o-1", "o-2", "o-3"] {
            follow(&s, "a", id);
        }
        follow(&s, "b", "o-1");
        s.create_tag("a", "vip", 5).unwrap();
        s.create_tag("a", "new", 5).unwrap();
        s.create_tag("b", "vip", 5).unwrap();
        s.tag_many("a", &ids(&["o-1", "o-2", "o-3"]), "vip")
            .unwrap();
        s.tag_many("a", &ids(&["o-1"]), "new").unwrap();
        s.tag_many("b", &ids(&["o-1"]), "vip").unwrap();
        s.touch("a", "o-3", Touch::Unsubscribe, 2).unwrap();
        let list = s.list_tags("a").unwrap();
        assert_eq!(
            list.iter()
                .map(|t| (t.name.as_str(), t.followers))
                .collect::<Vec<_>>(),
            [("new", 1), ("vip", 2)],
            "counts are of subscribed followers"
        );
        assert_eq!(
            s.rename_tag("a", "vip", "new").unwrap_err().code(),
            "conflict"
        );
        assert_eq!(
            s.rename_tag("a", "nope", "x").unwrap_err().code(),
            "not_found"
        );
        let t = s.rename_tag("a", "vip", "gold").unwrap();
        assert_eq!((t.name.as_str(), t.created_at), ("gold", 5));
        assert_eq!(s.get("a", "o-2").unwrap().tags, ["gold"]);
        assert_eq!(s.get("a", "o-1").unwrap().tags, ["gold", "new"]);
        assert_eq!(
            s.get("b", "o-1").unwrap().tags,
            ["vip"],
            "other account untouched"
        );
        assert_eq!(
            s.tag_many("a", &ids(&["o-1"]), "vip").unwrap_err().code(),
            "not_found"
        );
        assert_eq!(s.delete_tag("a", "gold").unwrap(), 3);
        assert_eq!(s.get("a", "o-1").unwrap().tags, ["new"]);
        assert!(s.get("a", "o-3").unwrap().tags.is_empty());
        assert_eq!(s.delete_tag("a", "gold").unwrap_err().code(), "not_found");
        assert_eq!(
            s.list_tags("a")
                .unwrap()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["new"]
        );
    }
}
