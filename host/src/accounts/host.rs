//! WIT host impls of `accounts` and `followers`: the account comes from the call's followers
//! grant; writes are durable before the plugin hears back.

use crate::error::Result;
use crate::runtime::bindings::v0_2_0::{accounts, followers, tags, wit};
use crate::runtime::state::CallState;

use super::followers::ProfileUpdate;
use super::segments::Segment;

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
        Ok(f.into())
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
            items: items.into_iter().map(Into::into).collect(),
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

    async fn remove_attribute(&mut self, id: String, key: String) -> Result<bool> {
        let scope = self.grants.followers_write()?;
        let mut existed = false;
        self.platform
            .followers
            .modify(&scope.account, &id, &mut |f| {
                existed = f.attributes.remove(&key).is_some();
                Ok(())
            })?
            .durable()
            .await?;
        Ok(existed)
    }

    async fn update_profile(
        &mut self,
        id: String,
        update: followers::ProfileUpdate,
    ) -> Result<followers::Follower> {
        let scope = self.grants.followers_write()?;
        let update = ProfileUpdate {
            nickname: update.nickname,
            region: update.region,
            gender: update.gender,
            language: update.language,
            attributes: Default::default(),
        };
        let f = self
            .platform
            .followers
            .update_profile(&scope.account, &id, &update)?
            .durable()
            .await?;
        Ok(f.into())
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

impl tags::Host for CallState {
    async fn list(&mut self) -> Result<Vec<tags::Tag>> {
        let scope = self.grants.tags_manage()?;
        Ok(self
            .platform
            .followers
            .list_tags(&scope.account)?
            .into_iter()
            .map(|t| tags::Tag {
                name: t.name,
                created_at: t.created_at,
                followers: t.followers,
            })
            .collect())
    }

    async fn create(&mut self, name: String) -> Result<tags::Tag> {
        let scope = self.grants.tags_manage()?;
        let now = self.platform.clock.now_ms();
        let tag = self
            .platform
            .followers
            .create_tag(&scope.account, &name, now)?
            .durable()
            .await?;
        Ok(tags::Tag {
            name: tag.name,
            created_at: tag.created_at,
            followers: 0,
        })
    }
}
