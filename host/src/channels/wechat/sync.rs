//! Sync of a bridged account with its real WeChat account: tags both ways, followers from
//! WeChat into Plaza.
//!
//! Tags: Plaza and WeChat name their tags alike but number them differently (Plaza's numbers are
//! its own, see `accounts::tags`). Sync makes both sides have the same tag names — a WeChat tag
//! Plaza lacks is created in Plaza, a Plaza tag WeChat lacks is created on WeChat — and stores
//! which WeChat tag id each Plaza tag name has (table `wechat_tag_ids`, key `account \0 name`).
//! Whatever speaks to WeChat about a tag (menu match rules, see `menu`) translates through that
//! map. The map is keyed by name because names are what both sides agree on; a tag renamed in
//! Plaza is a new name, which the next sync (or publish) creates on WeChat.
//!
//! Followers: WeChat is the authority on who follows a bridged account. Sync pages through
//! `user/get`, reads each page's users with `user/info/batchget` (100 at a time) and, per batch
//! in one unit of work, records a subscribe for each subscribed user Plaza does not have as
//! subscribed (as the inbound pipeline records a subscribe push, at WeChat's `subscribe_time`,
//! without running plugins: nobody subscribed just now), puts on each user the Plaza tags
//! matching their WeChat `tagid_list`, and marks unsubscribed a user WeChat reports with
//! `subscribe: 0` that Plaza still has as subscribed. Sync only adds tags: a Plaza tag a
//! follower carries but WeChat does not show may have been put there by a plugin.
//!
//! A second sync with nothing changed on either side changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::USER_INFO_BATCH;
use super::settings::WechatSettings;
use crate::accounts::followers::{MAX_TAGS_PER_FOLLOWER, Touch, validate_openid};
use crate::accounts::tags::validate_tag_name;
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::storage::backend::{key, prefix};
use crate::storage::{Json, Pending, Store, Table};

/// Map entries read per storage page.
const MAP_PAGE: usize = 500;

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// WeChat tags Plaza did not have.
    pub tags_created_in_plaza: u64,
    /// Plaza tags WeChat did not have.
    pub tags_created_on_wechat: u64,
    /// Openids WeChat listed as followers.
    pub followers_seen: u64,
    /// Followers Plaza did not have as subscribed (new, or back after an unsubscribe Plaza
    /// recorded).
    pub followers_added: u64,
    /// Followers Plaza had as subscribed that WeChat reports as not subscribed.
    pub followers_unsubscribed: u64,
    /// Followers who got at least one Plaza tag from their WeChat tags.
    pub followers_tagged: u64,
}

/// The tag part of a sync: Plaza tag name → WeChat tag id, and what was created.
#[derive(Debug, Clone, Default)]
pub struct TagSync {
    pub map: BTreeMap<String, i64>,
    pub created_in_plaza: u64,
    pub created_on_wechat: u64,
}

/// `(account, Plaza tag name) → WeChat tag id`, and the locks that keep two reconciliations (or
/// two menu publications) of the bridge from interleaving their calls to WeChat: two concurrent
/// tag reconciliations would both create a missing tag on WeChat (the second refused as a
/// duplicate), two publications could leave WeChat with the older menu.
pub struct WechatTagIds {
    store: Arc<Store>,
    table: Table<Json<i64>>,
    pub(super) reconcile: tokio::sync::Mutex<()>,
    pub(super) publish: tokio::sync::Mutex<()>,
}

impl WechatTagIds {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(WechatTagIds {
            table: store.table("wechat_tag_ids")?,
            store,
            reconcile: tokio::sync::Mutex::new(()),
            publish: tokio::sync::Mutex::new(()),
        })
    }

    /// The account's map, as the last sync or publish stored it.
    pub fn map(&self, account: &str) -> Result<BTreeMap<String, i64>> {
        let p = prefix(&[account]);
        let mut out = BTreeMap::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.table.scan(&p, after.as_deref(), MAP_PAGE)?;
            let full = page.len() == MAP_PAGE;
            for (k, id) in page {
                if let Some(name) = k.get(p.len()..).and_then(|n| std::str::from_utf8(n).ok()) {
                    out.insert(name.to_string(), id);
                }
                after = Some(k);
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// Replaces the account's map with `map`, in one unit of work.
    fn replace(&self, account: &str, map: &BTreeMap<String, i64>) -> Result<Pending<()>> {
        // Read before the unit of work: a table cannot be scanned inside one.
        let stale: Vec<String> = self
            .map(account)?
            .into_keys()
            .filter(|name| !map.contains_key(name))
            .collect();
        self.store.write(|tx| {
            for name in &stale {
                tx.delete(&self.table, &key(&[account, name]))?;
            }
            for (name, id) in map {
                tx.put(&self.table, &key(&[account, name]), id)?;
            }
            Ok(())
        })
    }
}

/// One user as `user/info/batchget` describes them; every other field is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
struct WechatUser {
    openid: String,
    #[serde(default)]
    subscribe: i64,
    #[serde(default)]
    subscribe_time: Option<u64>,
    #[serde(default)]
    subscribe_scene: Option<String>,
    #[serde(default)]
    tagid_list: Vec<i64>,
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    sex: Option<i64>,
    #[serde(default)]
    language: Option<String>,
}

/// What one batch of users changed.
#[derive(Debug, Default)]
struct BatchCounts {
    added: u64,
    unsubscribed: u64,
    tagged: u64,
}

impl Platform {
    /// Syncs a bridged account with WeChat (see the module docs). `NotFound` when the account
    /// is not bridged; WeChat's refusals as their mapped typed errors.
    pub async fn wechat_sync(&self, account: &str) -> Result<SyncReport> {
        let settings = self.wechat.require(account)?;
        let tags = self.reconcile_wechat_tags(account, &settings).await?;
        let by_wechat_id: HashMap<i64, String> = tags
            .map
            .iter()
            .map(|(name, id)| (*id, name.clone()))
            .collect();
        let mut report = SyncReport {
            tags_created_in_plaza: tags.created_in_plaza,
            tags_created_on_wechat: tags.created_on_wechat,
            ..SyncReport::default()
        };
        let client = &self.wechat_outbound.client;
        let mut cursor = String::new();
        loop {
            let (openids, next) = client.followers_page(account, &settings, &cursor).await?;
            if openids.is_empty() {
                break;
            }
            report.followers_seen += openids.len() as u64;
            for chunk in openids.chunks(USER_INFO_BATCH) {
                let users = client.user_infos(account, &settings, chunk).await?;
                let users = read_users(account, users);
                let counts = self
                    .apply_wechat_users(account, &users, &by_wechat_id)?
                    .durable()
                    .await?;
                report.followers_added += counts.added;
                report.followers_unsubscribed += counts.unsubscribed;
                report.followers_tagged += counts.tagged;
            }
            // The same cursor again would page forever.
            if next.is_empty() || next == cursor {
                break;
            }
            cursor = next;
        }
        tracing::info!(account, ?report, "synced a bridged account with WeChat");
        Ok(report)
    }

    /// Makes Plaza and WeChat have the same tag names and stores the name → WeChat id map.
    /// What was created before a failure stays in the map (the next run finds the rest by name).
    pub async fn reconcile_wechat_tags(
        &self,
        account: &str,
        settings: &WechatSettings,
    ) -> Result<TagSync> {
        let _one_at_a_time = self.wechat_tags.reconcile.lock().await;
        let client = &self.wechat_outbound.client;
        let on_wechat = client.tags(account, settings).await?;
        let mut plaza = self.followers.tag_id_map(account)?;
        let mut out = TagSync::default();
        let outcome: Result<()> = async {
            for (id, name, _) in &on_wechat {
                if !plaza.contains_key(name) {
                    if let Err(e) = validate_tag_name(name) {
                        tracing::warn!(account, tag = name, error = %e,
                            "a WeChat tag's name is not a valid Plaza tag name; not synced");
                        continue;
                    }
                    match self
                        .followers
                        .create_tag(account, name, self.clock.now_ms())
                    {
                        Ok(p) => {
                            let tag = p.durable().await?;
                            plaza.insert(tag.name, tag.id);
                            out.created_in_plaza += 1;
                        }
                        // The name is taken meanwhile, or by a tag being deleted or renamed:
                        // left unmapped (a later sync maps it if it is still there).
                        Err(PlazaError::Conflict(_)) => continue,
                        Err(e) => return Err(e),
                    }
                }
                out.map.insert(name.clone(), *id);
            }
            for name in plaza.keys() {
                if !out.map.contains_key(name) {
                    let id = client.create_tag(account, settings, name).await?;
                    out.map.insert(name.clone(), id);
                    out.created_on_wechat += 1;
                }
            }
            Ok(())
        }
        .await;
        self.wechat_tags
            .replace(account, &out.map)?
            .durable()
            .await?;
        outcome.map(|()| out)
    }

    /// Records one batch of WeChat users in one unit of work (see the module docs).
    fn apply_wechat_users(
        &self,
        account: &str,
        users: &[WechatUser],
        by_wechat_id: &HashMap<i64, String>,
    ) -> Result<Pending<BatchCounts>> {
        let now = self.clock.now_ms();
        self.store.write(|tx| {
            let mut counts = BatchCounts::default();
            for u in users {
                let known = self.followers.get_in(tx, account, &u.openid)?;
                if u.subscribe == 0 {
                    if known.as_ref().is_some_and(|f| f.subscribed) {
                        self.followers.touch_in(
                            tx,
                            account,
                            &u.openid,
                            &Touch::Unsubscribe,
                            now,
                        )?;
                        counts.unsubscribed += 1;
                    }
                    continue;
                }
                let new = known.is_none();
                let follower = match known {
                    Some(f) if f.subscribed => f,
                    _ => {
                        let at = u
                            .subscribe_time
                            .map(|s| s.saturating_mul(1000))
                            .filter(|&t| t > 0)
                            .unwrap_or(now);
                        counts.added += 1;
                        let touch = Touch::Subscribe {
                            scene: u.subscribe_scene.as_deref().filter(|s| !s.is_empty()),
                        };
                        self.followers
                            .touch_in(tx, account, &u.openid, &touch, at)?
                    }
                };
                let mut missing: Vec<&String> = u
                    .tagid_list
                    .iter()
                    .filter_map(|id| by_wechat_id.get(id))
                    .filter(|name| !follower.tags.contains(name))
                    .collect();
                missing.dedup();
                let room = MAX_TAGS_PER_FOLLOWER.saturating_sub(follower.tags.len());
                if missing.len() > room {
                    tracing::warn!(
                        account,
                        openid = u.openid,
                        "a follower has more tags than Plaza allows; some WeChat tags not synced"
                    );
                    missing.truncate(room);
                }
                if missing.is_empty() && !new {
                    continue;
                }
                if !missing.is_empty() {
                    counts.tagged += 1;
                }
                self.followers.modify_in(tx, account, &u.openid, &mut |f| {
                    f.tags.extend(missing.iter().map(|n| (*n).clone()));
                    if new {
                        fill_profile(f, u);
                    }
                    Ok(())
                })?;
            }
            Ok(counts)
        })
    }
}

/// A new follower's profile from what WeChat tells (older accounts' answers carry nickname and
/// sex; newer ones only the language).
fn fill_profile(f: &mut crate::accounts::followers::Follower, u: &WechatUser) {
    if let Some(n) = u.nickname.as_deref().filter(|n| !n.is_empty()) {
        f.nickname = n.to_string();
    }
    match u.sex {
        Some(1) => f.gender = "male".into(),
        Some(2) => f.gender = "female".into(),
        _ => {}
    }
    if let Some(l) = u.language.as_deref().filter(|l| !l.is_empty()) {
        f.language = l.to_string();
    }
}

/// The users of a `user_info_list` Plaza can record; the others are logged and skipped, so one
/// odd entry does not stop a sync.
fn read_users(account: &str, list: Vec<Value>) -> Vec<WechatUser> {
    list.into_iter()
        .filter_map(|v| match serde_json::from_value::<WechatUser>(v) {
            Ok(u) => match validate_openid(&u.openid) {
                Ok(()) => Some(u),
                Err(e) => {
                    tracing::warn!(account, error = %e, "skipped a WeChat user with an unusable openid");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(account, error = %e, "skipped a WeChat user entry that does not read");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn users_read_leniently() {
        let users = read_users(
            "a",
            vec![
                json!({"subscribe":1,"openid":"o1","tagid_list":[128,2],"subscribe_time":1382694957,
                       "unionid":"u","remark":"","groupid":0,"qr_scene":98765}),
                json!({"subscribe":0,"openid":"o2"}),
                json!({"subscribe":1}),
                json!({"subscribe":1,"openid":"a/b"}),
            ],
        );
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].tagid_list, [128, 2]);
        assert_eq!(users[0].subscribe_time, Some(1382694957));
        assert_eq!(users[1].subscribe, 0);
    }
}
