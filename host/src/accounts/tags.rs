//! Follower tags: a registry per account (create, rename, delete, list with counts) and batch tagging.
//!
//! The platform's limits apply: at most [`MAX_TAGS_PER_ACCOUNT`] tags per account, at most
//! [`MAX_TAGS_PER_FOLLOWER`] tags per follower, at most [`MAX_TAG_BATCH`] followers per tag/untag
//! call. A tag must exist in the registry before anyone (operator or plugin) can put it on a
//! follower; deleting a tag takes it off every follower. Operators and plugins go through the same
//! functions here, so the rules cannot differ between the admin API and the WIT `followers` import.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::followers::{Follower, FollowerStore, MAX_TAGS_PER_FOLLOWER};
use crate::error::{PlazaError, Result};
use crate::storage::backend::{key, prefix};
use crate::storage::{Json, Pending, Table, Tx};

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
    /// The tag's number in the WeChat protocol (`tag_id`: `/cgi-bin/tags/*`, mass sends, menu
    /// match rules), kept across renames. 0 for a tag stored before tags had numbers: it gets one
    /// the first time numbers are asked for ([`FollowerStore::tag_id_map`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: u64,
    /// Set while the tag is being taken off (or renamed on) every follower: it can no longer be
    /// put on anyone, and repeating the delete or rename finishes a run cut short by a crash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring: Option<Retiring>,
}

/// What happens to a retiring tag's followers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retiring {
    Deleted,
    RenamedTo(String),
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The first number given to an account's tags: WeChat reserves 0-2 for its system tags (and
/// SDKs treat small numbers specially), so user tags start well above them, as WeChat's do.
pub const FIRST_TAG_ID: u64 = 100;

/// A tag with the number of subscribed followers carrying it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagInfo {
    /// The tag's WeChat `tag_id`.
    pub id: u64,
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

/// The registry: `(account, name) → Tag`, `account → number of tags` (so that creating a tag
/// checks the limit and inserts in one unit of work) and `account → next tag number`.
pub struct TagRegistry {
    tags: Table<Json<Tag>>,
    counts: Table<Json<u64>>,
    next_ids: Table<Json<u64>>,
}

impl TagRegistry {
    pub fn new(
        tags: Table<Json<Tag>>,
        counts: Table<Json<u64>>,
        next_ids: Table<Json<u64>>,
    ) -> Self {
        TagRegistry {
            tags,
            counts,
            next_ids,
        }
    }

    /// Takes the account's next tag number, in the caller's unit of work.
    fn take_id(&self, tx: &mut Tx<'_>, account: &str) -> Result<u64> {
        let next = tx
            .get(&self.next_ids, account.as_bytes())?
            .unwrap_or(FIRST_TAG_ID);
        tx.put(&self.next_ids, account.as_bytes(), &(next + 1))?;
        Ok(next)
    }

    /// The account's tags, retiring ones included.
    fn all(&self, account: &str) -> Result<Vec<Tag>> {
        self.tags.values(&prefix(&[account]))
    }

    /// The account's usable tags (not being deleted or renamed).
    pub fn list(&self, account: &str) -> Result<Vec<Tag>> {
        Ok(self
            .all(account)?
            .into_iter()
            .filter(|t| t.retiring.is_none())
            .collect())
    }

    pub fn get(&self, account: &str, name: &str) -> Result<Option<Tag>> {
        validate_tag_name(name)?;
        self.tags.get(&key(&[account, name]))
    }

    /// The tag, or `NotFound` saying how to create it.
    pub fn require(&self, account: &str, name: &str) -> Result<Tag> {
        usable(account, name, self.get(account, name)?)
    }

    /// Like [`TagRegistry::require`], inside a unit of work (so the tag cannot retire meanwhile).
    fn require_in(&self, tx: &mut Tx<'_>, account: &str, name: &str) -> Result<Tag> {
        validate_tag_name(name)?;
        let tag = tx.get(&self.tags, &key(&[account, name]))?;
        usable(account, name, tag)
    }
}

fn usable(account: &str, name: &str, tag: Option<Tag>) -> Result<Tag> {
    match tag {
        Some(t) if t.retiring.is_none() => Ok(t),
        _ => Err(PlazaError::not_found(format!(
            "tag {name:?} does not exist on account {account:?}; create it first"
        ))),
    }
}

/// Followers changed per unit of work when a tag is deleted or renamed everywhere.
const RETAG_BATCH: usize = 500;

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
    /// Each usable tag's WeChat number, by name. Tags stored before tags had numbers get theirs
    /// here, in one unit of work.
    pub fn tag_id_map(&self, account: &str) -> Result<BTreeMap<String, u64>> {
        let tags = self.tags.list(account)?;
        if tags.iter().all(|t| t.id != 0) {
            return Ok(tags.into_iter().map(|t| (t.name, t.id)).collect());
        }
        let reg = &self.tags;
        self.store
            .write(|tx| {
                let mut map = BTreeMap::new();
                for t in &tags {
                    let k = key(&[account, &t.name]);
                    let Some(mut stored) = tx.get(&reg.tags, &k)? else {
                        continue;
                    };
                    if stored.id == 0 {
                        stored.id = reg.take_id(tx, account)?;
                        tx.put(&reg.tags, &k, &stored)?;
                    }
                    if stored.retiring.is_none() {
                        map.insert(stored.name, stored.id);
                    }
                }
                Ok(map)
            })
            .map(Pending::detach)
    }

    /// The usable tag with this WeChat number, or `NotFound`.
    pub fn tag_by_id(&self, account: &str, id: u64) -> Result<Tag> {
        let name = self
            .tag_id_map(account)?
            .into_iter()
            .find(|(_, n)| *n == id)
            .map(|(name, _)| name)
            .ok_or_else(|| {
                PlazaError::not_found(format!("no tag with id {id} on account {account:?}"))
            })?;
        self.tags.require(account, &name)
    }

    /// The tag from the account's registry, or `NotFound` (e.g. for a broadcast audience `tag:X`).
    pub fn require_tag(&self, account: &str, name: &str) -> Result<Tag> {
        self.tags.require(account, name)
    }

    /// The account's tags in name order, each with the number of subscribed followers carrying it.
    pub fn list_tags(&self, account: &str) -> Result<Vec<TagInfo>> {
        let ids = self.tag_id_map(account)?;
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
                id: ids.get(&t.name).copied().unwrap_or(t.id),
                followers: counts.get(&t.name).copied().unwrap_or(0),
                name: t.name,
                created_at: t.created_at,
            })
            .collect())
    }

    /// Adds `tag` to the registry, counting it against the account's limit in the same unit of
    /// work.
    /// How many tags the account has, for registries written before the count record existed
    /// (read before a unit of work: a table cannot be scanned inside one).
    fn uncounted_tags(&self, account: &str) -> Result<u64> {
        Ok(self.tags.all(account)?.len() as u64)
    }

    fn insert_tag(&self, tx: &mut Tx<'_>, account: &str, tag: &Tag, uncounted: u64) -> Result<()> {
        self.put_new_tag(tx, account, tag)?;
        let reg = &self.tags;
        let count = tx
            .get(&reg.counts, account.as_bytes())?
            .unwrap_or(uncounted);
        if count as usize >= MAX_TAGS_PER_ACCOUNT {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "account {account:?} already has {MAX_TAGS_PER_ACCOUNT} tags, the most an account may have; delete one first"
                ),
                resets_at: None,
            });
        }
        tx.put(&reg.counts, account.as_bytes(), &(count + 1))?;
        let mut tag = tag.clone();
        tag.id = reg.take_id(tx, account)?;
        tx.put(&reg.tags, &key(&[account, &tag.name]), &tag)
    }

    /// Adds `tag` under a name not yet taken (a rename: the count does not change, the old name
    /// takes the count with it).
    fn put_new_tag(&self, tx: &mut Tx<'_>, account: &str, tag: &Tag) -> Result<()> {
        let reg = &self.tags;
        if tx.contains(&reg.tags, &key(&[account, &tag.name]))? {
            return Err(PlazaError::Conflict(format!(
                "tag {:?} already exists on account {account:?}",
                tag.name
            )));
        }
        tx.put(&reg.tags, &key(&[account, &tag.name]), tag)
    }

    pub fn create_tag(&self, account: &str, name: &str, now: u64) -> Result<Pending<Tag>> {
        validate_tag_name(name)?;
        let tag = Tag {
            name: name.to_string(),
            created_at: now,
            id: 0,
            retiring: None,
        };
        let uncounted = self.uncounted_tags(account)?;
        self.store.write(|tx| {
            self.insert_tag(tx, account, &tag, uncounted)?;
            self.tags.require_in(tx, account, name)
        })
    }

    /// Renames a tag in the registry and on every follower carrying it. The new name is usable
    /// at once; followers are moved over in batches, and a rename cut short is finished by
    /// repeating it.
    pub async fn rename_tag(&self, account: &str, from: &str, to: &str) -> Result<Tag> {
        validate_tag_name(to)?;
        let tag = self
            .store
            .write(|tx| {
                let reg = &self.tags;
                validate_tag_name(from)?;
                let old = tx
                    .get(&reg.tags, &key(&[account, from]))?
                    .ok_or_else(|| usable(account, from, None).unwrap_err())?;
                let target = Retiring::RenamedTo(to.to_string());
                match &old.retiring {
                    None if from == to => return Ok(old),
                    None => {}
                    // Repeating the rename that was cut short.
                    Some(r) if *r == target => return Ok(old),
                    Some(_) => return usable(account, from, None),
                }
                // The number stays with the tag (a legacy tag without one gets one now).
                let id = if old.id == 0 {
                    reg.take_id(tx, account)?
                } else {
                    old.id
                };
                let new = Tag {
                    name: to.to_string(),
                    created_at: old.created_at,
                    id,
                    retiring: None,
                };
                self.put_new_tag(tx, account, &new)?;
                let retiring = Tag {
                    retiring: Some(target),
                    ..old
                };
                tx.put(&reg.tags, &key(&[account, from]), &retiring)?;
                Ok(new)
            })?
            .durable()
            .await?;
        if from != to {
            self.retire(account, from).await?;
        }
        Ok(Tag {
            name: to.to_string(),
            ..tag
        })
    }

    /// Deletes a tag: it stops being usable at once, is taken off every follower in batches,
    /// then leaves the registry (a delete cut short is finished by repeating it). Returns how many
    /// followers carried it.
    pub async fn delete_tag(&self, account: &str, name: &str) -> Result<u64> {
        self.store
            .write(|tx| {
                let reg = &self.tags;
                validate_tag_name(name)?;
                let tag = tx
                    .get(&reg.tags, &key(&[account, name]))?
                    .ok_or_else(|| usable(account, name, None).unwrap_err())?;
                match tag.retiring {
                    None => tx.put(
                        &reg.tags,
                        &key(&[account, name]),
                        &Tag {
                            retiring: Some(Retiring::Deleted),
                            ..tag
                        },
                    ),
                    Some(Retiring::Deleted) => Ok(()),
                    Some(Retiring::RenamedTo(_)) => usable(account, name, None).map(drop),
                }
            })?
            .durable()
            .await?;
        self.retire(account, name).await
    }

    /// Moves every follower off the retiring tag `name` (to its new name, or nowhere), then
    /// removes it from the registry. Returns how many followers carried it.
    async fn retire(&self, account: &str, name: &str) -> Result<u64> {
        let reg = &self.tags;
        let Some(tag) = reg.tags.get(&key(&[account, name]))? else {
            return Ok(0);
        };
        let to = match &tag.retiring {
            Some(Retiring::RenamedTo(to)) => Some(to.clone()),
            Some(Retiring::Deleted) => None,
            None => return Ok(0),
        };
        let mut carriers = Vec::new();
        self.for_each(account, &mut |f| {
            if f.tags.iter().any(|t| t == name) {
                carriers.push(f.openid.clone());
            }
            Ok(())
        })?;
        for batch in carriers.chunks(RETAG_BATCH) {
            self.store
                .write(|tx| {
                    for openid in batch {
                        self.modify_in(tx, account, openid, &mut |f| {
                            match &to {
                                Some(to) if !f.tags.iter().any(|t| t == to) => {
                                    for t in f.tags.iter_mut().filter(|t| *t == name) {
                                        *t = to.clone();
                                    }
                                }
                                _ => f.tags.retain(|t| t != name),
                            }
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?
                .durable()
                .await?;
        }
        let uncounted = self.uncounted_tags(account)?;
        let renamed = to.is_some();
        self.store
            .write(|tx| {
                if tx.delete(&reg.tags, &key(&[account, name]))? && !renamed {
                    let count = tx
                        .get(&reg.counts, account.as_bytes())?
                        .unwrap_or(uncounted);
                    tx.put(&reg.counts, account.as_bytes(), &count.saturating_sub(1))?;
                }
                Ok(())
            })?
            .durable()
            .await?;
        Ok(carriers.len() as u64)
    }

    /// Puts `tag` on each follower named (at most [`MAX_TAG_BATCH`]), in one unit of work: an
    /// unknown tag or openid is `NotFound`, and a follower already carrying
    /// [`MAX_TAGS_PER_FOLLOWER`] other tags is `QuotaExceeded`, and then nobody is tagged.
    /// Followers who already carry the tag are left as they are. Returns the followers as they
    /// are now.
    pub fn tag_many(
        &self,
        account: &str,
        ids: &[String],
        tag: &str,
    ) -> Result<Pending<Vec<Follower>>> {
        let ids = batch(ids)?;
        self.store.write(|tx| {
            self.tags.require_in(tx, account, tag)?;
            let (mut missing, mut full, mut out) = (Vec::new(), Vec::new(), Vec::new());
            for id in &ids {
                let k = key(&[account, id]);
                let Some(mut f) = tx.get(&self.table, &k)? else {
                    missing.push(*id);
                    continue;
                };
                if !f.tags.iter().any(|t| t == tag) {
                    if f.tags.len() >= MAX_TAGS_PER_FOLLOWER {
                        full.push(*id);
                        continue;
                    }
                    f.tags.push(tag.to_string());
                    tx.put(&self.table, &k, &f)?;
                }
                out.push(f);
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
            Ok(out)
        })
    }

    /// Takes `tag` off each follower named (at most [`MAX_TAG_BATCH`]) in one unit of work;
    /// unknown tag or openid is `NotFound` and then nobody is changed.
    pub fn untag_many(
        &self,
        account: &str,
        ids: &[String],
        tag: &str,
    ) -> Result<Pending<Vec<Follower>>> {
        let ids = batch(ids)?;
        self.store.write(|tx| {
            self.tags.require_in(tx, account, tag)?;
            let (mut missing, mut out) = (Vec::new(), Vec::new());
            for id in &ids {
                let k = key(&[account, id]);
                let Some(mut f) = tx.get(&self.table, &k)? else {
                    missing.push(*id);
                    continue;
                };
                if f.tags.iter().any(|t| t == tag) {
                    f.tags.retain(|t| t != tag);
                    tx.put(&self.table, &k, &f)?;
                }
                out.push(f);
            }
            if !missing.is_empty() {
                return Err(PlazaError::not_found(format!(
                    "no follower {} on account {account:?}; nobody was untagged",
                    quote_list(&missing)
                )));
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::followers::Touch;
    use crate::storage::testing::ok;

    fn store() -> (tempfile::TempDir, FollowerStore) {
        crate::accounts::followers::tests::store()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    async fn follow(s: &FollowerStore, account: &str, id: &str) {
        ok(s.touch(account, id, Touch::Subscribe { scene: None }, 1))
            .await
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

    #[tokio::test]
    async fn tagging_needs_a_registered_tag_and_respects_limits() {
        let (_d, s) = store();
        follow(&s, "a", "o-1").await;
        follow(&s, "a", "o-2").await;
        let e = ok(s.tag_many("a", &ids(&["o-1"]), "vip"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "not_found");
        assert!(e.message().contains("create it first"), "{e}");
        ok(s.create_tag("a", "vip", 1)).await.unwrap();
        assert_eq!(
            ok(s.create_tag("a", "vip", 1)).await.unwrap_err().code(),
            "conflict"
        );
        // A tag of another account does not count.
        assert_eq!(
            ok(s.tag_many("b", &ids(&["o-1"]), "vip"))
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        // Unknown openid: nobody is tagged.
        let e = ok(s.tag_many("a", &ids(&["o-1", "o-404"]), "vip"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "not_found");
        assert!(e.message().contains("o-404"), "{e}");
        assert!(s.get("a", "o-1").unwrap().tags.is_empty());
        let tagged = ok(s.tag_many("a", &ids(&["o-1", "o-2", "o-1"]), "vip"))
            .await
            .unwrap();
        assert_eq!(tagged.len(), 2);
        // Idempotent.
        ok(s.tag_many("a", &ids(&["o-1"]), "vip")).await.unwrap();
        assert_eq!(s.get("a", "o-1").unwrap().tags, ["vip"]);
        // Batch size.
        let many: Vec<String> = (0..51).map(|i| format!("o-{i}")).collect();
        assert_eq!(
            ok(s.tag_many("a", &many, "vip")).await.unwrap_err().code(),
            "too_large"
        );
        assert_eq!(
            ok(s.tag_many("a", &[], "vip")).await.unwrap_err().code(),
            "invalid"
        );
        // Per follower: 20.
        for i in 1..MAX_TAGS_PER_FOLLOWER {
            let t = format!("t{i}");
            ok(s.create_tag("a", &t, 1)).await.unwrap();
            ok(s.tag_many("a", &ids(&["o-1"]), &t)).await.unwrap();
        }
        assert_eq!(s.get("a", "o-1").unwrap().tags.len(), MAX_TAGS_PER_FOLLOWER);
        ok(s.create_tag("a", "one-more", 1)).await.unwrap();
        let e = ok(s.tag_many("a", &ids(&["o-2", "o-1"]), "one-more"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "quota_exceeded");
        assert!(e.message().contains("\"o-1\""), "{e}");
        assert!(
            !s.get("a", "o-2").unwrap().tags.contains(&"one-more".into()),
            "all or nothing"
        );
        // Re-tagging with a tag already carried is fine at the limit.
        ok(s.tag_many("a", &ids(&["o-1"]), "vip")).await.unwrap();
        ok(s.untag_many("a", &ids(&["o-1"]), "t1")).await.unwrap();
        ok(s.tag_many("a", &ids(&["o-1"]), "one-more"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn tags_are_numbered_per_account_and_keep_their_number_across_a_rename() {
        let (_d, s) = store();
        let vip = ok(s.create_tag("a", "vip", 1)).await.unwrap();
        let new = ok(s.create_tag("a", "new", 1)).await.unwrap();
        let other = ok(s.create_tag("b", "vip", 1)).await.unwrap();
        assert_eq!(
            (vip.id, new.id, other.id),
            (FIRST_TAG_ID, FIRST_TAG_ID + 1, FIRST_TAG_ID)
        );
        s.rename_tag("a", "vip", "gold").await.unwrap();
        let map = s.tag_id_map("a").unwrap();
        assert_eq!(map.get("gold"), Some(&FIRST_TAG_ID));
        assert_eq!(map.get("vip"), None);
        assert_eq!(s.tag_by_id("a", FIRST_TAG_ID).unwrap().name, "gold");
        assert_eq!(s.tag_by_id("a", 7).unwrap_err().code(), "not_found");
        s.delete_tag("a", "gold").await.unwrap();
        assert_eq!(
            s.tag_by_id("a", FIRST_TAG_ID).unwrap_err().code(),
            "not_found"
        );
        // Numbers are not reused after a delete.
        let later = ok(s.create_tag("a", "later", 1)).await.unwrap();
        assert_eq!(later.id, FIRST_TAG_ID + 2);
        let listed = s.list_tags("a").unwrap();
        assert!(listed.iter().any(|t| t.name == "later" && t.id == later.id));
    }

    #[tokio::test]
    async fn a_tag_stored_before_tags_had_numbers_gets_one_when_asked() {
        let (_d, s) = store();
        ok(s.create_tag("a", "new", 1)).await.unwrap();
        // What an older version stored: no number.
        let legacy = Tag {
            name: "old".into(),
            created_at: 1,
            id: 0,
            retiring: None,
        };
        ok(s.store
            .write(|tx| tx.put(&s.tags.tags, &key(&["a", "old"]), &legacy)))
        .await
        .unwrap();
        let map = s.tag_id_map("a").unwrap();
        assert_eq!(map.get("old"), Some(&(FIRST_TAG_ID + 1)));
        assert_eq!(s.tag_id_map("a").unwrap(), map, "stable once given");
    }

    #[tokio::test]
    async fn an_account_has_at_most_100_tags() {
        let (_d, s) = store();
        for i in 0..MAX_TAGS_PER_ACCOUNT {
            ok(s.create_tag("a", &format!("t{i}"), 1)).await.unwrap();
        }
        let e = ok(s.create_tag("a", "t100", 1)).await.unwrap_err();
        assert_eq!(e.code(), "quota_exceeded");
        ok(s.create_tag("b", "t100", 1)).await.unwrap();
        s.delete_tag("a", "t0").await.unwrap();
        ok(s.create_tag("a", "t100", 1)).await.unwrap();
    }

    #[tokio::test]
    async fn rename_and_delete_reach_every_follower() {
        let (_d, s) = store();
        for id in ["o-1", "o-2", "o-3"] {
            follow(&s, "a", id).await;
        }
        follow(&s, "b", "o-1").await;
        ok(s.create_tag("a", "vip", 5)).await.unwrap();
        ok(s.create_tag("a", "new", 5)).await.unwrap();
        ok(s.create_tag("b", "vip", 5)).await.unwrap();
        ok(s.tag_many("a", &ids(&["o-1", "o-2", "o-3"]), "vip"))
            .await
            .unwrap();
        ok(s.tag_many("a", &ids(&["o-1"]), "new")).await.unwrap();
        ok(s.tag_many("b", &ids(&["o-1"]), "vip")).await.unwrap();
        ok(s.touch("a", "o-3", Touch::Unsubscribe, 2))
            .await
            .unwrap();
        let list = s.list_tags("a").unwrap();
        assert_eq!(
            list.iter()
                .map(|t| (t.name.as_str(), t.followers))
                .collect::<Vec<_>>(),
            [("new", 1), ("vip", 2)],
            "counts are of subscribed followers"
        );
        assert_eq!(
            s.rename_tag("a", "vip", "new").await.unwrap_err().code(),
            "conflict"
        );
        assert_eq!(
            s.rename_tag("a", "nope", "x").await.unwrap_err().code(),
            "not_found"
        );
        let t = s.rename_tag("a", "vip", "gold").await.unwrap();
        assert_eq!((t.name.as_str(), t.created_at), ("gold", 5));
        assert_eq!(s.get("a", "o-2").unwrap().tags, ["gold"]);
        assert_eq!(s.get("a", "o-1").unwrap().tags, ["gold", "new"]);
        assert_eq!(
            s.get("b", "o-1").unwrap().tags,
            ["vip"],
            "other account untouched"
        );
        assert_eq!(
            ok(s.tag_many("a", &ids(&["o-1"]), "vip"))
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        assert_eq!(s.delete_tag("a", "gold").await.unwrap(), 3);
        assert_eq!(s.get("a", "o-1").unwrap().tags, ["new"]);
        assert!(s.get("a", "o-3").unwrap().tags.is_empty());
        assert_eq!(
            s.delete_tag("a", "gold").await.unwrap_err().code(),
            "not_found"
        );
        assert_eq!(
            s.list_tags("a")
                .unwrap()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["new"]
        );
    }

    #[tokio::test]
    async fn a_delete_cut_short_is_finished_by_repeating_it() {
        let (_d, faulty, store) = crate::storage::testing::faulty_store();
        let s = FollowerStore::new(store).unwrap();
        for id in ["o-1", "o-2", "o-3"] {
            follow(&s, "a", id).await;
        }
        ok(s.create_tag("a", "vip", 1)).await.unwrap();
        ok(s.tag_many("a", &ids(&["o-1", "o-2", "o-3"]), "vip"))
            .await
            .unwrap();
        // The tag is marked retiring (write 1); moving its followers off fails part-way.
        faulty.fail_next_at(3);
        assert_eq!(
            s.delete_tag("a", "vip").await.unwrap_err().code(),
            "unavailable"
        );
        faulty.disarm();
        // The batch was all or nothing, and the tag can no longer be used or seen.
        assert_eq!(s.get("a", "o-1").unwrap().tags, ["vip"]);
        assert!(s.list_tags("a").unwrap().is_empty());
        assert_eq!(
            ok(s.tag_many("a", &ids(&["o-1"]), "vip"))
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        assert_eq!(s.delete_tag("a", "vip").await.unwrap(), 3);
        assert!(s.get("a", "o-2").unwrap().tags.is_empty());
        // The name is free again, and counted once.
        ok(s.create_tag("a", "vip", 2)).await.unwrap();
        assert_eq!(s.list_tags("a").unwrap().len(), 1);
    }
}
