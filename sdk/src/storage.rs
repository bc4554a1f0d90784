//! Key-value storage private to this plugin on the current account.
//!
//! The host namespaces every key by account *and* plugin, so plugins never see each other's data
//! and one installation never sees another account's. Requires the `storage` capability.
//!
//! Values are bytes; [`get_json`]/[`set_json`] and [`get_string`] cover the common encodings.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::plaza::platform::storage as wit;
use crate::Error;

pub use wit::{Entries, Entry};

/// The value stored under `key`, or `None` if absent.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    wit::get(key)
}

/// The value under `key` as UTF-8 text; [`Error::Invalid`] if it is not UTF-8.
pub fn get_string(key: &str) -> Result<Option<String>, Error> {
    get(key)?
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| Error::invalid(format!("value of {key:?} is not UTF-8")))
        })
        .transpose()
}

/// Stores `value` under `key`, replacing any previous value.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
    wit::set(key, value.as_ref())
}

/// Removes `key`; `true` if it existed.
pub fn delete(key: &str) -> Result<bool, Error> {
    wit::delete(key)
}

/// Up to `limit` entries whose key starts with `prefix`, in key order. Pass the returned
/// `next_cursor` back as `cursor` to continue; it is `None` on the last page.
pub fn list_prefix(prefix: &str, cursor: Option<&str>, limit: u32) -> Result<Entries, Error> {
    wit::list_prefix(prefix, cursor, limit)
}

/// Sets `key` to `new` (`None` deletes) only if its current value is `expected` (`None` = absent).
/// Returns `true` if the swap happened. The building block for safe read-modify-write.
pub fn compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<bool, Error> {
    wit::compare_and_swap(key, expected, new)
}

/// Atomically adds `delta` to the integer counter under `key` (absent = 0); returns the new value.
pub fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    wit::increment(key, delta)
}

/// The value under `key` decoded from JSON. [`Error::Invalid`] if the stored bytes are not a
/// valid JSON encoding of `T` (e.g. written by an older plugin version with another shape).
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    get(key)?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| {
                Error::invalid(format!("value of {key:?} is not the expected JSON: {e}"))
            })
        })
        .transpose()
}

/// Stores `value` under `key` encoded as JSON. [`Error::Invalid`] if it cannot be serialised.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::invalid(format!("cannot encode value for {key:?} as JSON: {e}")))?;
    set(key, bytes)
}

pub use wit::{BatchOutcome, Check, Write};

/// Applies every write of `writes` atomically and durably, but only if every check of `checks`
/// holds at that moment; otherwise writes nothing and says which check failed. No CAS loop is
/// needed: the host evaluates checks and writes as one unit under concurrency.
///
/// ```ignore
/// use plaza_sdk::storage::{self, Check, Write, BatchOutcome};
/// // Redeem one reward for 100 points from a limited stock.
/// let outcome = storage::batch(
///     &[Check::CounterAtLeast(("stock:mug".into(), 1)), Check::CounterAtLeast((points_key.clone(), 100))],
///     &[Write::Increment(("stock:mug".into(), -1)), Write::Increment((points_key, -100)),
///       Write::Set(storage::Entry { key: format!("redeemed:{id}"), value: b"mug".to_vec() })],
/// )?;
/// if let BatchOutcome::CheckFailed(0) = outcome { /* out of stock */ }
/// ```
pub fn batch(checks: &[Check], writes: &[Write]) -> Result<BatchOutcome, Error> {
    wit::batch(checks, writes)
}

impl Check {
    /// The key has no value.
    pub fn absent(key: impl Into<String>) -> Self {
        Check::Absent(key.into())
    }

    /// The key holds exactly `value`.
    pub fn equals(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Check::Equals(Entry {
            key: key.into(),
            value: value.into(),
        })
    }

    /// The counter under `key` (absent = 0) is at least `n`.
    pub fn counter_at_least(key: impl Into<String>, n: i64) -> Self {
        Check::CounterAtLeast((key.into(), n))
    }
}

impl Write {
    /// Stores `value` under `key`.
    pub fn set(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Write::Set(Entry {
            key: key.into(),
            value: value.into(),
        })
    }

    /// Removes `key`.
    pub fn delete(key: impl Into<String>) -> Self {
        Write::Delete(key.into())
    }

    /// Adds `delta` to the counter under `key`.
    pub fn increment(key: impl Into<String>, delta: i64) -> Self {
        Write::Increment((key.into(), delta))
    }
}

/// Read-modify-write of the JSON value under `key` without lost updates: `f` gets the current
/// value (`None` if absent) and returns the new one (`None` deletes) or an error (nothing is
/// written); the write is a [`compare_and_swap`] and `f` runs again if another call changed the
/// value meanwhile, up to [`UPDATE_ATTEMPTS`] times ([`Error::Conflict`] after that). Returns
/// what `f` returned last. Keep `f` free of side effects: it may run more than once.
///
/// ```ignore
/// let total = storage::update_json("stats", |s: Option<Stats>| {
///     let mut s = s.unwrap_or_default();
///     s.votes += 1;
///     Ok(Some(s))
/// })?;
/// ```
pub fn update_json<T, F>(key: &str, mut f: F) -> Result<Option<T>, Error>
where
    T: Serialize + DeserializeOwned,
    F: FnMut(Option<T>) -> Result<Option<T>, Error>,
{
    for _ in 0..UPDATE_ATTEMPTS {
        let current = get(key)?;
        let value = current
            .as_deref()
            .map(|bytes| {
                serde_json::from_slice(bytes).map_err(|e| {
                    Error::invalid(format!("value of {key:?} is not the expected JSON: {e}"))
                })
            })
            .transpose()?;
        let next = f(value)?;
        let encoded = next
            .as_ref()
            .map(|v| {
                serde_json::to_vec(v).map_err(|e| {
                    Error::invalid(format!("cannot encode value for {key:?} as JSON: {e}"))
                })
            })
            .transpose()?;
        if compare_and_swap(key, current.as_deref(), encoded.as_deref())? {
            return Ok(next);
        }
    }
    Err(Error::conflict(format!(
        "{key:?} kept changing under {UPDATE_ATTEMPTS} attempts to update it; try again"
    )))
}

/// Attempts of [`update_json`] before it gives up with [`Error::Conflict`].
pub const UPDATE_ATTEMPTS: usize = 16;

/// Every entry whose key starts with `prefix`, in key order, fetched a page at a time as the
/// iterator advances (no need to handle cursors). Each item is a `Result`: a failing page ends
/// the iteration with that error.
pub fn scan_prefix(prefix: &str) -> impl Iterator<Item = Result<Entry, Error>> {
    let prefix = prefix.to_string();
    crate::paging::pages(move |cursor| {
        let page = list_prefix(&prefix, cursor, SCAN_PAGE)?;
        Ok((page.items, page.next_cursor))
    })
}

/// Entries decoded from JSON: [`scan_prefix`] with [`get_json`]'s decoding; yields `(key, value)`.
pub fn scan_prefix_json<T: DeserializeOwned>(
    prefix: &str,
) -> impl Iterator<Item = Result<(String, T), Error>> {
    scan_prefix(prefix).map(|entry| {
        let entry = entry?;
        let value = serde_json::from_slice(&entry.value).map_err(|e| {
            Error::invalid(format!(
                "value of {:?} is not the expected JSON: {e}",
                entry.key
            ))
        })?;
        Ok((entry.key, value))
    })
}

/// Entries fetched per page by [`scan_prefix`].
const SCAN_PAGE: u32 = 200;
