//! WIT host impl of `storage`: grant check, namespace from the call context, durable before return.

use crate::error::Result;
use crate::plugins::grants::Capability;
use crate::runtime::bindings::v0_1_0::plaza::platform::storage;
use crate::runtime::state::CallState;

use super::plugin_kv::KvNamespace;

impl CallState {
    /// The caller's namespace, after checking the storage grant.
    fn kv_namespace(&self) -> Result<KvNamespace> {
        self.install
            .installation
            .grants
            .require(&Capability::Storage)?;
        Ok(KvNamespace {
            account: self.account_id().to_string(),
            plugin: self.plugin_name().to_string(),
        })
    }
}

impl storage::Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        let ns = self.kv_namespace()?;
        self.platform.kv.get(&ns, &key)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<()> {
        let ns = self.kv_namespace()?;
        self.platform.kv.set(&ns, &key, &value)?;
        self.platform.commit.commit().await
    }

    async fn delete(&mut self, key: String) -> Result<bool> {
        let ns = self.kv_namespace()?;
        let existed = self.platform.kv.delete(&ns, &key)?;
        self.platform.commit.commit().await?;
        Ok(existed)
    }

    async fn list_prefix(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<storage::Entries> {
        let ns = self.kv_namespace()?;
        let page = self
            .platform
            .kv
            .list_prefix(&ns, &prefix, cursor.as_deref(), limit)?;
        Ok(storage::Entries {
            items: page
                .items
                .into_iter()
                .map(|(key, value)| storage::Entry { key, value })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool> {
        let ns = self.kv_namespace()?;
        let swapped =
            self.platform
                .kv
                .compare_and_swap(&ns, &key, expected.as_deref(), new.as_deref())?;
        if swapped {
            self.platform.commit.commit().await?;
        }
        Ok(swapped)
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64> {
        let ns = self.kv_namespace()?;
        let v = self.platform.kv.increment(&ns, &key, delta)?;
        self.platform.commit.commit().await?;
        Ok(v)
    }
}
