//! WIT host impls of `accounts` and `followers`: the account comes from the call's followers
//! grant; writes are durable before the plugin hears back.

use crate::error::Result;
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
        Ok(self.account().into())
    }
}

impl followers::Host for CallState {
    async fn get(&mut self, id: String) -> Result<followers::Follower> {
        let scope = self.grants.followers_read()?;
        let mut f = self.platform.followers.get(&scope.account, &id)?;
        if let Some(p) = &self.interaction {
            p.apply(&mut f);
        }
        Ok(to_wit(f))
    }

    async fn list(
        &mut self,
        segment: Option<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<followers::Page> {
        let scope = self.grants.followers_read()?;
        let segment = segment
            .map(|s| Segment::parse(&s, &self.account().timezone))
            .transpose()?;
        let (items, next_cursor) = self.platform.followers.list_matching(
            &scope.account,
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
        let scope = self.grants.followers_write()?;
        self.platform
            .followers
            .tag_many(&scope.account, &ids, &tag)?
            .durable()
            .await
            .map(drop)
    }

    async fn untag(&mut self, ids: Vec<String>, tag: String) -> Result<()> {
        let scope = self.grants.followers_write()?;
        self.platform
            .followers
            .untag_many(&scope.account, &ids, &tag)?
            .durable()
            .await
            .map(drop)
    }

    async fn set_attribute(&mut self, id: String, key: String, value: String) -> Result<()> {
        let scope = self.grants.followers_write()?;
        self.platform
            .followers
            .set_attribute(&scope.account, &id, &key, &value)?
            .durable()
            .await
            .map(drop)
    }

    async fn count(&mut self, id: String, counter: String, delta: i64) -> Result<i64> {
        let scope = self.grants.followers_write()?;
        self.platform
            .followers
            .count(&scope.account, &id, &counter, delta)?
            .durable()
            .await
    }
}
