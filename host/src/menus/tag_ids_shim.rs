//! TEMPORARY: stands in for main's numeric tag ids (`FollowerStore::tag_id_map`, `tag_by_id`)
//! until they are merged; delete this file then.

use std::collections::BTreeMap;

use crate::accounts::followers::FollowerStore;
use crate::accounts::tags::Tag;
use crate::error::{PlazaError, Result};

impl FollowerStore {
    pub fn tag_id_map(&self, account: &str) -> Result<BTreeMap<String, u64>> {
        Ok(self
            .list_tags(account)?
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t.name, 100 + i as u64))
            .collect())
    }

    pub fn tag_by_id(&self, account: &str, id: u64) -> Result<Tag> {
        let name = self
            .tag_id_map(account)?
            .into_iter()
            .find(|(_, i)| *i == id)
            .map(|(n, _)| n)
            .ok_or_else(|| PlazaError::not_found(format!("tag {id}")))?;
        self.require_tag(account, &name)
    }
}
