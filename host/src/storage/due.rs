//! A time-ordered index of records that come due: scheduled jobs, and topic deliveries waiting for
//! their next attempt.
//!
//! Entry key: `{at:020} \0 {record key}`, empty value. The zero-padded time makes byte order time
//! order, so "everything due by now" is one range scan. The index is written in the same unit of
//! work as the record it points at, so the two never disagree after a crash; a reader still
//! treats an entry whose record is gone as stale and removes it.

use super::Store;
use super::table::{Bytes, Table, Tx};
use crate::error::Result;

#[derive(Clone)]
pub struct DueIndex {
    table: Table<Bytes>,
}

/// The index key of `record` due at `at`.
pub fn due_key(at: u64, record: &[u8]) -> Vec<u8> {
    let mut k = format!("{at:020}").into_bytes();
    k.push(0);
    k.extend_from_slice(record);
    k
}

impl DueIndex {
    pub fn new(table: Table<Bytes>) -> Self {
        DueIndex { table }
    }

    pub fn table(&self) -> &Table<Bytes> {
        &self.table
    }

    pub fn schedule(&self, tx: &mut Tx<'_>, at: u64, record: &[u8]) -> Result<()> {
        tx.put_bytes(&self.table, &due_key(at, record), b"")
    }

    pub fn unschedule(&self, tx: &mut Tx<'_>, at: u64, record: &[u8]) -> Result<()> {
        tx.delete(&self.table, &due_key(at, record))?;
        Ok(())
    }

    /// Entries due at or before `now`, earliest first: `(due time, record key)`.
    pub fn due(&self, now: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let end = format!("{now:020}\u{1}").into_bytes();
        Ok(self
            .table
            .range(b"", &end, limit)?
            .into_iter()
            .filter_map(|(k, _)| split(&k))
            .collect())
    }

    /// The records due at or before `now`, earliest first, as `current` reads them: it answers
    /// `None` for an entry that is stale (its record gone, or moved to another time by a
    /// reschedule), and such entries are removed on the way (with the next flush; a crash before
    /// it leaves them to the next reader).
    pub fn due_records<T>(
        &self,
        store: &Store,
        now: u64,
        limit: usize,
        mut current: impl FnMut(u64, &[u8]) -> Result<Option<T>>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut stale = Vec::new();
        for (at, record) in self.due(now, limit)? {
            match current(at, &record)? {
                Some(r) => out.push(r),
                None => stale.push((at, record)),
            }
        }
        if !stale.is_empty() {
            store
                .write(|tx| {
                    for (at, record) in &stale {
                        self.unschedule(tx, *at, record)?;
                    }
                    Ok(())
                })?
                .detach();
        }
        Ok(out)
    }
}

fn split(k: &[u8]) -> Option<(u64, Vec<u8>)> {
    let (at, record) = k.split_at_checked(20)?;
    let at = std::str::from_utf8(at).ok()?.parse().ok()?;
    Some((at, record.get(1..)?.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::faulty_store;

    #[tokio::test]
    async fn entries_come_due_in_time_order() {
        let (_d, _f, store) = faulty_store();
        let due = DueIndex::new(store.table("due").unwrap());
        store
            .write(|tx| {
                due.schedule(tx, 300, b"c")?;
                due.schedule(tx, 100, b"a\0x")?;
                due.schedule(tx, 200, b"b")
            })
            .unwrap()
            .durable()
            .await
            .unwrap();
        assert_eq!(
            due.due(250, 10).unwrap(),
            vec![(100, b"a\0x".to_vec()), (200, b"b".to_vec())]
        );
        store
            .write(|tx| due.unschedule(tx, 100, b"a\0x"))
            .unwrap()
            .durable()
            .await
            .unwrap();
        assert_eq!(due.due(1000, 1).unwrap(), vec![(200, b"b".to_vec())]);
    }
}
