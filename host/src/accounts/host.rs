//! WIT host impls of `accounts` and `followers`: check the grant, then call the stores.

use crate::error::Result;
use crate::plugins::grants::Capability;
use crate::runtime::bindings::v0_1_0::plaza::platform::{accounts, followers};
use crate::runtime::state::CallState;
use crate::runtime::wit;

use super::followers::Follower;
use super::segments::Segment;

impl From<&super::Account> for wit::Account {
    fn from(a: &super::Account) -> Self {
        wit::Account {
            id: a.id.clone(),
            name: a.name.clone(),
            kind: match a.kind {
                super::AccountKind::Subscription => wit::AccountKind::Subscription,
                super::AccountKind::Service => wit::AccountKind::Service,
            },
            verified: a.verified,
            timezone: a.timezone.clone(),
        }
    }
}

fn to_wit(f: Follower) -> followers::Follower {
    followers::Follower {
        openid: f.openid,
        nickname: f.nickname,
        region: f.region,
        gender: f.gender,
        language: f.language,
        subscribed: f.subscribed,
        subscribed_at: f.subscribed_at,
        last_interaction_at: f.last_interaction_at,
        tags: f.tags,
        attributes: f.attributes.into_iter().collect(),
    }
}

impl accounts::Host for CallState {
    async fn current(&mut self) -> wasmtime::Result<wit::Account> {
        Ok((&self.install.account).into())
    }
}

impl CallState {
    fn require(&self, cap: Capability) -> Result<()> {
        self.install.installation.grants.require(&cap)
    }
}

impl followers::Host for CallState {
    async fn get(&mut self, id: String) -> Result<followers::Follower> {
        self.require(Capability::FollowersRead)?;
        Ok(to_wit(self.platform.followers.get(self.account_id(), &id)?))
    }

    async fn list(
        &mut self,
        segment: Option<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<followers::Page> {
        self.require(Capability::FollowersRead)?;
        let segment = segment
            .map(|s| Segment::parse(&s, &self.install.account.timezone))
            .transpose()?;
        let (items, next_cursor) = self.platform.followers.list_matching(
            self.account_id(),
            segment.as_ref(),
            cursor.as_deref(),
            limit.clamp(1, 1000) as usize,
            self.platform.clock.now_ms(),
        )?;
        Ok(followers::Page {
            items: items.into_iter().map(to_wit).collect(),
            next_cursor,
        })
    }

    async fn tag(&mut self, ids: Vec<String>, tag: String) -> Result<()> {
        self.require(Capability::FollowersWrite)?;
        self.platform
            .followers
            .tag_many(self.account_id(), &ids, &tag)?;
        self.platform.commit.commit().await
    }

    async fn untag(&mut self, ids: Vec<String>, tag: String) -> Result<()> {
        self.require(Capability::FollowersWrite)?;
        self.platform
            .followers
            .untag_many(self.account_id(), &ids, &tag)?;
        self.platform.commit.commit().await
    }

    async fn set_attribute(&mut self, id: String, key: String, value: String) -> Result<()> {
        self.require(Capability::FollowersWrite)?;
        self.platform
            .followers
            .set_attribute(self.account_id(), &id, &key, &value)?;
        self.platform.commit.commit().await
    }

    async fn count(&mut self, id: String, counter: String, delta: i64) -> Result<i64> {
        self.require(Capability::FollowersWrite)?;
        let v = self
            .platform
            .followers
            .count(self.account_id(), &id, &counter, delta)?;
        self.platform.commit.commit().await?;
        Ok(v)
    }
}
