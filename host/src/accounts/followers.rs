//! Followers of an account: created on subscribe, marked on unsubscribe, touched on every interaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::tags::TagRegistry;
use crate::error::{PlazaError, Result};
use crate::storage::backend::{key, prefix};
use crate::storage::{Json, Pending, Store, Table, Tx};

/// Tags one follower may carry (the platform's own limit).
pub const MAX_TAGS_PER_FOLLOWER: usize = 20;
pub const MAX_ATTRIBUTES: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Follower {
    pub openid: String,
    #[serde(default)]
    pub nickname: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub gender: String,
    #[serde(default)]
    pub language: String,
    pub subscribed: bool,
    pub subscribed_at: u64,
    #[serde(default)]
    pub subscribe_scene: Option<String>,
    #[serde(default)]
    pub unsubscribed_at: Option<u64>,
    pub last_interaction_at: u64,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Behaviour counters: messages, clicks, reads, purchases, …
    #[serde(default)]
    pub counters: BTreeMap<String, i64>,
}

/// What happened that touches a follower record.
#[derive(Debug, Clone)]
pub enum Touch<'a> {
    Subscribe {
        scene: Option<&'a str>,
    },
    Unsubscribe,
    /// A message or other interaction; bumps the named counter.
    Interaction {
        counter: &'a str,
    },
}

/// An interaction being handled but not yet recorded: a message or event from a known follower is
/// recorded together with its answer, after the plugins ran; meanwhile they see the follower as
/// it will be (its last interaction, its counter) through this.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingInteraction {
    pub openid: String,
    pub counter: &'static str,
    pub at: u64,
}

impl PendingInteraction {
    /// The follower as it will be once the interaction is recorded.
    pub fn apply(&self, f: &mut Follower) {
        if f.openid == self.openid {
            apply_touch(
                f,
                &Touch::Interaction {
                    counter: self.counter,
                },
                self.at,
            );
        }
    }
}

/// What recording `touch` at `at` does to a follower record.
fn apply_touch(f: &mut Follower, touch: &Touch<'_>, at: u64) {
    match touch {
        Touch::Subscribe { scene } => {
            f.subscribed = true;
            f.subscribed_at = at;
            f.subscribe_scene = scene.map(str::to_string);
            f.unsubscribed_at = None;
        }
        Touch::Unsubscribe => {
            f.subscribed = false;
            f.unsubscribed_at = Some(at);
        }
        Touch::Interaction { counter } => {
            *f.counters.entry((*counter).to_string()).or_default() += 1;
        }
    }
    if !matches!(touch, Touch::Unsubscribe) {
        f.last_interaction_at = f.last_interaction_at.max(at);
    }
}

pub struct FollowerStore {
    pub(super) store: Arc<Store>,
    /// `(account, openid)` → follower.
    pub(super) table: Table<Json<Follower>>,
    /// The account's tag registry (see `tags`).
    pub(super) tags: TagRegistry,
}

/// An openid is opaque, but it names a follower in keys, URLs, logs and operator screens: 1-128
/// bytes, no '/', and no control or bidi characters (see `accounts::is_forbidden_char`).
pub fn validate_openid(openid: &str) -> Result<()> {
    if openid.is_empty() || openid.len() > 128 || openid.contains('/') {
        return Err(PlazaError::invalid(format!(
            "openid {openid:?} must be 1-128 bytes without '/' or control characters"
        )));
    }
    super::refuse_control_chars("openid", openid, &[])
}

fn not_found(account: &str, openid: &str) -> PlazaError {
    PlazaError::not_found(format!("follower {openid:?} of account {account:?}"))
}

impl FollowerStore {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(FollowerStore {
            table: store.table("followers")?,
            tags: TagRegistry::new(
                store.table("follower_tags")?,
                store.table("follower_tag_counts")?,
                store.table("follower_tag_next_ids")?,
            ),
            store,
        })
    }

    /// Records an interaction inside a unit of work and returns the follower as it is now. An
    /// unknown openid that interacts (e.g. a message before the subscribe event reached us)
    /// becomes a follower.
    pub fn touch_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        touch: &Touch<'_>,
        at: u64,
    ) -> Result<Follower> {
        validate_openid(openid)?;
        let mut f = tx
            .get(&self.table, &key(&[account, openid]))?
            .unwrap_or_else(|| Follower {
                openid: openid.to_string(),
                subscribed: true,
                subscribed_at: at,
                ..Default::default()
            });
        apply_touch(&mut f, touch, at);
        tx.put(&self.table, &key(&[account, openid]), &f)?;
        Ok(f)
    }

    /// [`FollowerStore::touch_in`] as a unit of work of its own.
    pub fn touch(
        &self,
        account: &str,
        openid: &str,
        touch: Touch<'_>,
        at: u64,
    ) -> Result<Pending<Follower>> {
        self.store
            .write(|tx| self.touch_in(tx, account, openid, &touch, at))
    }

    /// The follower inside a unit of work, if the account has it.
    pub fn get_in(&self, tx: &mut Tx<'_>, account: &str, openid: &str) -> Result<Option<Follower>> {
        tx.get(&self.table, &key(&[account, openid]))
    }

    /// Whether the account has this follower (subscribed or not).
    pub fn exists(&self, account: &str, openid: &str) -> Result<bool> {
        self.table.contains(&key(&[account, openid]))
    }

    pub fn get(&self, account: &str, openid: &str) -> Result<Follower> {
        self.table
            .get(&key(&[account, openid]))?
            .ok_or_else(|| not_found(account, openid))
    }

    /// One page of followers in openid order; the cursor is the last openid of the previous page.
    pub fn list(
        &self,
        account: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Follower>, Option<String>)> {
        let page = self.table.page(&prefix(&[account]), cursor, limit)?;
        let next = page.next_cursor.clone();
        Ok((page.values(), next))
    }

    /// Applies `f` to an existing follower inside a unit of work; `f` may refuse with an error,
    /// which aborts the whole unit.
    pub fn modify_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        f: &mut dyn FnMut(&mut Follower) -> Result<()>,
    ) -> Result<Follower> {
        let k = key(&[account, openid]);
        let mut follower = tx
            .get(&self.table, &k)?
            .ok_or_else(|| not_found(account, openid))?;
        f(&mut follower)?;
        tx.put(&self.table, &k, &follower)?;
        Ok(follower)
    }

    /// [`FollowerStore::modify_in`] as a unit of work of its own.
    pub fn modify(
        &self,
        account: &str,
        openid: &str,
        f: &mut dyn FnMut(&mut Follower) -> Result<()>,
    ) -> Result<Pending<Follower>> {
        self.store
            .write(|tx| self.modify_in(tx, account, openid, &mut *f))
    }

    pub fn set_attribute(
        &self,
        account: &str,
        openid: &str,
        name: &str,
        value: &str,
    ) -> Result<Pending<Follower>> {
        validate_attribute(name, value)?;
        self.modify(account, openid, &mut |f| {
            if !f.attributes.contains_key(name) && f.attributes.len() >= MAX_ATTRIBUTES {
                return Err(PlazaError::QuotaExceeded {
                    message: format!("follower already has {MAX_ATTRIBUTES} attributes"),
                    resets_at: None,
                });
            }
            f.attributes.insert(name.to_string(), value.to_string());
            Ok(())
        })
    }

    pub fn count(
        &self,
        account: &str,
        openid: &str,
        counter: &str,
        delta: i64,
    ) -> Result<Pending<i64>> {
        if counter.is_empty() || counter.len() > 64 {
            return Err(PlazaError::invalid("counter names are 1-64 bytes"));
        }
        let follower = self.modify(account, openid, &mut |f| {
            let c = f.counters.entry(counter.to_string()).or_default();
            *c = c
                .checked_add(delta)
                .ok_or_else(|| PlazaError::invalid("counter overflow"))?;
            Ok(())
        })?;
        Ok(follower.map(|f| f.counters.get(counter).copied().unwrap_or(0)))
    }
}

/// Most followers one listing request examines before it answers with what it found so far (and a
/// cursor to continue), so that a rare segment over a large account never holds a request long.
pub const MAX_SCAN_PER_PAGE: usize = 20_000;
/// Most attribute changes in one profile update.
const MAX_ATTRIBUTE_CHANGES: usize = 100;
/// Genders a profile may state (WeChat's 0/1/2 as words); empty = not known.
pub const GENDERS: &[&str] = &["male", "female", "unknown"];

/// An operator's change to a follower's profile; absent fields stay as they are. An attribute set to
/// `null` is removed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    pub nickname: Option<String>,
    pub region: Option<String>,
    pub gender: Option<String>,
    pub language: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Option<String>>,
}

fn profile_text(field: &str, value: &str, max_chars: usize) -> Result<()> {
    if value.chars().count() > max_chars || value.chars().any(char::is_control) {
        return Err(PlazaError::invalid(format!(
            "{field} must be at most {max_chars} characters without control characters"
        )));
    }
    Ok(())
}

fn validate_attribute(name: &str, value: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 || value.len() > 1024 {
        return Err(PlazaError::invalid(
            "attribute names are 1-64 bytes and values at most 1024 bytes",
        ));
    }
    if name.contains('\0') || name.chars().any(char::is_control) {
        return Err(PlazaError::invalid(format!(
            "attribute name {name:?} contains control characters"
        )));
    }
    Ok(())
}

impl ProfileUpdate {
    pub fn validate(&self) -> Result<()> {
        if let Some(n) = &self.nickname {
            profile_text("nickname", n, 64)?;
        }
        if let Some(r) = &self.region {
            profile_text("region", r, 64)?;
        }
        if let Some(g) = &self.gender
            && !g.is_empty()
            && !GENDERS.contains(&g.as_str())
        {
            return Err(PlazaError::invalid(format!(
                "gender {g:?} must be one of {} (or empty)",
                GENDERS.join(", ")
            )));
        }
        if let Some(l) = &self.language
            && (l.len() > 16
                || !l
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return Err(PlazaError::invalid(format!(
                "language {l:?} must be a code such as zh_CN or en (at most 16 of A-Z, a-z, 0-9, '_', '-')"
            )));
        }
        if self.attributes.len() > MAX_ATTRIBUTE_CHANGES {
            return Err(PlazaError::TooLarge(format!(
                "{} attribute changes in one update; the limit is {MAX_ATTRIBUTE_CHANGES}",
                self.attributes.len()
            )));
        }
        for (name, value) in &self.attributes {
            validate_attribute(name, value.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

/// Counts for dashboards: how the followers considered spread over profile fields and hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FollowerStats {
    /// Followers considered (all the account's, or those matching the segment).
    pub total: u64,
    pub subscribed: u64,
    pub unsubscribed: u64,
    /// Distributions over the subscribed followers considered; an empty value counts as `unknown`.
    pub by_region: BTreeMap<String, u64>,
    pub by_gender: BTreeMap<String, u64>,
    pub by_language: BTreeMap<String, u64>,
    /// Index = hour of day (0-23, in `timezone`) of each subscribed follower's last interaction.
    pub by_active_hour: Vec<u64>,
    pub timezone: String,
}

fn bump(map: &mut BTreeMap<String, u64>, value: &str) {
    let k = if value.is_empty() { "unknown" } else { value };
    *map.entry(k.to_string()).or_default() += 1;
}

impl FollowerStore {
    /// Up to `n` followers after `after` (an openid) in openid order.
    fn page(&self, account: &str, after: Option<&str>, n: usize) -> Result<Vec<Follower>> {
        Ok(self.table.page(&prefix(&[account]), after, n)?.values())
    }

    /// Calls `f` for every follower of the account, in openid order.
    pub fn for_each(
        &self,
        account: &str,
        f: &mut dyn FnMut(&Follower) -> Result<()>,
    ) -> Result<()> {
        const PAGE: usize = 1000;
        let mut after: Option<String> = None;
        loop {
            let page = self.page(account, after.as_deref(), PAGE)?;
            for follower in &page {
                f(follower)?;
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.openid.clone()),
                _ => return Ok(()),
            }
        }
    }

    /// One page of the followers matching `segment` (every follower when `None`), in openid order.
    ///
    /// The cursor is an openid: the next page starts after it, so pages stay stable while followers
    /// come and go. A page may hold fewer than `limit` followers (even none) while `next_cursor` is
    /// still set, when a sparse segment needed more than [`MAX_SCAN_PER_PAGE`] followers examined;
    /// `next_cursor` is `None` only at the end.
    pub fn list_matching(
        &self,
        account: &str,
        segment: Option<&super::segments::Segment>,
        cursor: Option<&str>,
        limit: usize,
        now_ms: u64,
    ) -> Result<(Vec<Follower>, Option<String>)> {
        let Some(segment) = segment else {
            return self.list(account, cursor, limit);
        };
        const PAGE: usize = 500;
        let limit = limit.max(1);
        let mut out: Vec<Follower> = Vec::new();
        let mut after = cursor.map(str::to_string);
        let mut scanned = 0;
        loop {
            let page = self.page(account, after.as_deref(), PAGE)?;
            let exhausted = page.len() < PAGE;
            for f in page {
                scanned += 1;
                after = Some(f.openid.clone());
                if segment.matches(&f, now_ms) {
                    if out.len() == limit {
                        // There is at least one more: continue after the last one returned.
                        let next = out.last().map(|l| l.openid.clone());
                        return Ok((out, next));
                    }
                    out.push(f);
                }
            }
            if exhausted {
                return Ok((out, None));
            }
            if scanned >= MAX_SCAN_PER_PAGE {
                return Ok((out, after));
            }
        }
    }

    /// Distributions of the account's followers (or of those matching `segment`).
    pub fn stats(
        &self,
        account: &str,
        timezone: &str,
        segment: Option<&super::segments::Segment>,
        now_ms: u64,
    ) -> Result<FollowerStats> {
        use chrono::{TimeZone, Timelike};
        let tz: chrono_tz::Tz = timezone
            .parse()
            .map_err(|_| PlazaError::invalid(format!("unknown timezone {timezone:?}")))?;
        let mut stats = FollowerStats {
            by_active_hour: vec![0; 24],
            timezone: timezone.to_string(),
            ..Default::default()
        };
        self.for_each(account, &mut |f| {
            if segment.is_some_and(|s| !s.matches(f, now_ms)) {
                return Ok(());
            }
            stats.total += 1;
            if !f.subscribed {
                stats.unsubscribed += 1;
                return Ok(());
            }
            stats.subscribed += 1;
            bump(&mut stats.by_region, &f.region);
            bump(&mut stats.by_gender, &f.gender);
            bump(&mut stats.by_language, &f.language);
            if f.last_interaction_at > 0
                && let Some(t) = tz
                    .timestamp_millis_opt(f.last_interaction_at as i64)
                    .single()
                && let Some(slot) = stats.by_active_hour.get_mut(t.hour() as usize)
            {
                *slot += 1;
            }
            Ok(())
        })?;
        Ok(stats)
    }

    /// Applies an operator's profile update atomically.
    pub fn update_profile(
        &self,
        account: &str,
        openid: &str,
        update: &ProfileUpdate,
    ) -> Result<Pending<Follower>> {
        update.validate()?;
        self.modify(account, openid, &mut |f| {
            if let Some(n) = &update.nickname {
                f.nickname = n.clone();
            }
            if let Some(r) = &update.region {
                f.region = r.clone();
            }
            if let Some(g) = &update.gender {
                f.gender = g.clone();
            }
            if let Some(l) = &update.language {
                f.language = l.clone();
            }
            for (name, value) in &update.attributes {
                match value {
                    Some(v) => {
                        f.attributes.insert(name.clone(), v.clone());
                    }
                    None => {
                        f.attributes.remove(name);
                    }
                }
            }
            if f.attributes.len() > MAX_ATTRIBUTES {
                return Err(PlazaError::QuotaExceeded {
                    message: format!(
                        "follower {openid:?} would have {} attributes; the limit is {MAX_ATTRIBUTES}",
                        f.attributes.len()
                    ),
                    resets_at: None,
                });
            }
            Ok(())
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::accounts::segments::Segment;
    use crate::storage::testing::{done, faulty_store};

    pub(crate) fn store() -> (tempfile::TempDir, FollowerStore) {
        let (dir, _faulty, store) = faulty_store();
        (dir, FollowerStore::new(store).unwrap())
    }

    #[test]
    fn segment_listing_pages_with_a_stable_cursor() {
        let (_d, s) = store();
        for i in 0..300 {
            let id = format!("o-{i:03}");
            done(s.touch("a", &id, Touch::Subscribe { scene: None }, 1000 + i)).unwrap();
            if i % 3 == 0 {
                done(s.set_attribute("a", &id, "level", "gold")).unwrap();
            }
            if i % 10 == 0 {
                done(s.touch("a", &id, Touch::Unsubscribe, 5000)).unwrap();
            }
        }
        done(s.touch("b", "o-000", Touch::Subscribe { scene: None }, 1)).unwrap();
        done(s.set_attribute("b", "o-000", "level", "gold")).unwrap();
        let seg = Segment::parse("attr.level = gold", "UTC").unwrap();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = s
                .list_matching("a", Some(&seg), cursor.as_deref(), 7, 0)
                .unwrap();
            assert!(page.len() <= 7);
            seen.extend(page.into_iter().map(|f| f.openid));
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let expected: Vec<String> = (0..300)
            .filter(|i| i % 3 == 0 && i % 10 != 0)
            .map(|i| format!("o-{i:03}"))
            .collect();
        assert_eq!(seen, expected);
        // Exactly `limit` matches left: the last full page has no next cursor.
        let (page, next) = s
            .list_matching("a", Some(&seg), Some("o-290"), 3, 0)
            .unwrap();
        assert_eq!(page.len(), 3);
        assert_eq!(next, None);
        // No segment: everyone, unsubscribed included.
        let (all, _) = s.list_matching("a", None, None, 1000, 0).unwrap();
        assert_eq!(all.len(), 300);
    }

    #[test]
    fn stats_count_by_field_and_hour_in_the_timezone() {
        let (_d, s) = store();
        // 2026-01-15 01:30 UTC = 09:30 in Shanghai.
        let t = 1_768_440_600_000;
        for (id, region, gender) in [
            ("o-1", "Shanghai", "female"),
            ("o-2", "Shanghai", "male"),
            ("o-3", "", "female"),
            ("o-4", "Beijing", ""),
        ] {
            done(s.touch("a", id, Touch::Subscribe { scene: None }, t)).unwrap();
            done(s.update_profile(
                "a",
                id,
                &ProfileUpdate {
                    region: Some(region.into()),
                    gender: Some(gender.into()),
                    language: Some("zh_CN".into()),
                    ..Default::default()
                },
            ))
            .unwrap();
        }
        done(s.touch("a", "o-4", Touch::Unsubscribe, t + 1)).unwrap();
        let st = s.stats("a", "Asia/Shanghai", None, t).unwrap();
        assert_eq!((st.total, st.subscribed, st.unsubscribed), (4, 3, 1));
        assert_eq!(st.by_region.get("Shanghai"), Some(&2));
        assert_eq!(st.by_region.get("unknown"), Some(&1));
        assert_eq!(st.by_region.get("Beijing"), None);
        assert_eq!(st.by_gender.get("female"), Some(&2));
        assert_eq!(st.by_language.get("zh_CN"), Some(&3));
        assert_eq!(st.by_active_hour[9], 3);
        assert_eq!(st.by_active_hour.iter().sum::<u64>(), 3);
        let utc = s.stats("a", "UTC", None, t).unwrap();
        assert_eq!(utc.by_active_hour[1], 3);
        let seg = Segment::parse("gender = female", "UTC").unwrap();
        let st = s.stats("a", "UTC", Some(&seg), t).unwrap();
        assert_eq!((st.total, st.subscribed), (2, 2));
    }

    #[test]
    fn profile_updates_validate_and_remove_attributes() {
        let (_d, s) = store();
        done(s.touch("a", "o-1", Touch::Subscribe { scene: None }, 1)).unwrap();
        let f = done(s.update_profile(
            "a",
            "o-1",
            &ProfileUpdate {
                nickname: Some("小明".into()),
                attributes: [("level".to_string(), Some("gold".to_string()))].into(),
                ..Default::default()
            },
        ))
        .unwrap();
        assert_eq!(f.nickname, "小明");
        assert_eq!(f.attributes.get("level").map(String::as_str), Some("gold"));
        let f = done(s.update_profile(
            "a",
            "o-1",
            &ProfileUpdate {
                attributes: [("level".to_string(), None)].into(),
                ..Default::default()
            },
        ))
        .unwrap();
        assert!(f.attributes.is_empty());
        assert_eq!(f.nickname, "小明", "absent fields stay");
        for bad in [
            ProfileUpdate {
                gender: Some("robot".into()),
                ..Default::default()
            },
            ProfileUpdate {
                language: Some("zh CN".into()),
                ..Default::default()
            },
            ProfileUpdate {
                nickname: Some("x".repeat(65)),
                ..Default::default()
            },
            ProfileUpdate {
                attributes: [(String::new(), Some("v".to_string()))].into(),
                ..Default::default()
            },
        ] {
            let e = done(s.update_profile("a", "o-1", &bad)).unwrap_err();
            assert_eq!(e.code(), "invalid", "{bad:?}: {e}");
        }
        let e = done(s.update_profile("a", "o-404", &ProfileUpdate::default())).unwrap_err();
        assert_eq!(e.code(), "not_found");
    }
}
