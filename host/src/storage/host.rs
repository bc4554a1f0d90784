//! WIT host impl of `storage`: the namespace comes from the call's storage grant, never from the
//! plugin; every write is durable before the plugin hears back.

use super::{BatchOutcome, KvCheck, KvWrite};
use crate::error::Result;
use crate::runtime::bindings::v0_2_0::storage;
use crate::runtime::state::CallState;

impl storage::Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        let ns = self.grants.storage()?;
        self.platform.kv.get(&ns, &key)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<()> {
        let ns = self.grants.storage()?;
        self.platform.kv.set(&ns, &key, &value)?.durable().await
    }

    async fn delete(&mut self, key: String) -> Result<bool> {
        let ns = self.grants.storage()?;
        self.platform.kv.delete(&ns, &key)?.durable().await
    }

    async fn list_prefix(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<storage::Entries> {
        let ns = self.grants.storage()?;
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
        let ns = self.grants.storage()?;
        self.platform
            .kv
            .compare_and_swap(&ns, &key, expected.as_deref(), new.as_deref())?
            .durable()
            .await
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64> {
        let ns = self.grants.storage()?;
        self.platform
            .kv
            .increment(&ns, &key, delta)?
            .durable()
            .await
    }

    async fn batch(
        &mut self,
        checks: Vec<storage::Check>,
        writes: Vec<storage::Write>,
    ) -> Result<storage::BatchOutcome> {
        let ns = self.grants.storage()?;
        let checks: Vec<KvCheck> = checks
            .into_iter()
            .map(|c| match c {
                storage::Check::Absent(k) => KvCheck::Absent(k),
                storage::Check::Equals(e) => KvCheck::Equals(e.key, e.value),
                storage::Check::CounterAtLeast((k, n)) => KvCheck::CounterAtLeast(k, n),
            })
            .collect();
        let writes: Vec<KvWrite> = writes
            .into_iter()
            .map(|w| match w {
                storage::Write::Set(e) => KvWrite::Set(e.key, e.value),
                storage::Write::Delete(k) => KvWrite::Delete(k),
                storage::Write::Increment((k, n)) => KvWrite::Increment(k, n),
            })
            .collect();
        let outcome = self
            .platform
            .kv
            .batch(&ns, &checks, &writes)?
            .durable()
            .await?;
        Ok(match outcome {
            BatchOutcome::Applied => storage::BatchOutcome::Applied,
            BatchOutcome::CheckFailed(i) => storage::BatchOutcome::CheckFailed(i),
        })
    }
}
