//! Followers of an account: created on subscribe, marked on unsubscribe, touched on every interaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{PlazaError, Result};
use crate::storage::backend::{Tree, key, prefix};

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

pub struct FollowerStore {
    tree: Arc<dyn Tree>,
}

pub fn validate_openid(openid: &str) -> Result<()> {
    if openid.is_empty() || openid.len() > 128 || openid.contains(['\0', '/']) {
        return Err(PlazaError::invalid(format!(
            "openid {openid:?} must be 1-128 bytes without '/' or NUL"
        )));
    }
    Ok(())
}

impl FollowerStore {
    pub fn new(tree: Arc<dyn Tree>) -> Self {
        FollowerStore { tree }
    }

    /// Records an interaction atomically and returns the follower as it is now. An unknown openid
    /// that interacts (e.g. a message before the subscribe event reached us) becomes a follower.
    pub fn touch(
        &self,
        account: &str,
        openid: &str,
        touch: Touch<'_>,
        at: u64,
    ) -> Result<Follower> {
        validate_openid(openid)?;
        let k = key(&[account, openid]);
        let mut failure = None;
        let new = self.tree.update(&k, &mut |old| {
            let mut f: Follower = match old.map(serde_json::from_slice).transpose() {
                Ok(f) => f.unwrap_or_else(|| Follower {
                    openid: openid.to_string(),
                    subscribed: true,
                    subscribed_at: at,
                    ..Default::default()
                }),
                Err(e) => {
                    failure = Some(PlazaError::from(e));
                    return old.map(<[u8]>::to_vec);
                }
            };
            match &touch {
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
            serde_json::to_vec(&f).ok()
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let new = new.ok_or_else(|| PlazaError::internal("follower record vanished"))?;
        Ok(serde_json::from_slice(&new)?)
    }

    pub fn get(&self, account: &str, openid: &str) -> Result<Follower> {
        match self.tree.get(&key(&[account, openid]))? {
            Some(b) => Ok(serde_json::from_slice(&b)?),
            None => Err(PlazaError::not_found(format!(
                "follower {openid:?} of account {account:?}"
            ))),
        }
    }

    /// One page of followers in openid order; the cursor is the last openid of the previous page.
    pub fn list(
        &self,
        account: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Follower>, Option<String>)> {
        let base = prefix(&[account]);
        let after = cursor.map(|c| [base.as_slice(), c.as_bytes()].concat());
        let mut rows = self.tree.scan_prefix(&base, after.as_deref(), limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items: Vec<Follower> = rows
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v))
            .collect::<std::result::Result<_, _>>()?;
        let next = if more {
            items.last().map(|f| f.openid.clone())
        } else {
            None
        };
        Ok((items, next))
    }

    /// Applies `f` to an existing follower atomically; `f` may refuse with an error.
    pub fn modify(
        &self,
        account: &str,
        openid: &str,
        f: &mut dyn FnMut(&mut Follower) -> Result<()>,
    ) -> Result<Follower> {
        let k = key(&[account, openid]);
        let mut failure = None;
        let mut found = false;
        let new = self.tree.update(&k, &mut |old| {
            let old = old?;
            found = true;
            let mut follower: Follower = match serde_json::from_slice(old) {
                Ok(x) => x,
                Err(e) => {
                    failure = Some(PlazaError::from(e));
                    return Some(old.to_vec());
                }
            };
            if let Err(e) = f(&mut follower) {
                failure = Some(e);
                return Some(old.to_vec());
            }
            serde_json::to_vec(&follower).ok()
        })?;
        if !found {
            return Err(PlazaError::not_found(format!(
                "follower {openid:?} of account {account:?}"
            )));
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let new = new.ok_or_else(|| PlazaError::internal("follower record vanished"))?;
        Ok(serde_json::from_slice(&new)?)
    }

    pub fn tag(&self, account: &str, openid: &str, tag: &str) -> Result<Follower> {
        self.modify(account, openid, &mut |f| {
            if f.tags.iter().any(|t| t == tag) {
                return Ok(());
            }
            if f.tags.len() >= MAX_TAGS_PER_FOLLOWER {
                return Err(PlazaError::QuotaExceeded {
                    message: format!(
                        "follower {openid:?} already has {MAX_TAGS_PER_FOLLOWER} tags"
                    ),
                    resets_at: None,
                });
            }
            f.tags.push(tag.to_string());
            Ok(())
        })
    }

    pub fn untag(&self, account: &str, openid: &str, tag: &str) -> Result<Follower> {
        self.modify(account, openid, &mut |f| {
            f.tags.retain(|t| t != tag);
            Ok(())
        })
    }

    pub fn set_attribute(
        &self,
        account: &str,
        openid: &str,
        name: &str,
        value: &str,
    ) -> Result<Follower> {
        if name.is_empty() || name.len() > 64 || value.len() > 1024 {
            return Err(PlazaError::invalid(
                "attribute names are 1-64 bytes and values at most 1024 bytes",
            ));
        }
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

    pub fn count(&self, account: &str, openid: &str, counter: &str, delta: i64) -> Result<i64> {
        if counter.is_empty() || counter.len() > 64 {
            return Err(PlazaError::invalid("counter names are 1-64 bytes"));
        }
        let mut value = 0;
        self.modify(account, openid, &mut |f| {
            let c = f.counters.entry(counter.to_string()).or_default();
            *c = c
                .checked_add(delta)
                .ok_or_else(|| PlazaError::invalid("counter overflow"))?;
            value = *c;
            Ok(())
        })?;
        Ok(value)
    }
}
