//! Media: content-addressed blobs per account (images, audio, video, PDF), with a size cap per
//! blob and a byte quota per account, served publicly at `/media/{account}/{media_id}`.
//!
//! A blob's id is the lowercase hex SHA-256 of its bytes, so the same bytes always get the same
//! id, and putting them twice stores them once and counts them once against the quota. Blobs
//! live in the host's [`Store`] (so online backups include them), cut into chunks of
//! [`CHUNK_BYTES`]: a range request reads only the chunks it covers, and no record is large. A
//! blob's metadata, its chunks and the account's usage counter are written in one unit of work,
//! so a blob is either wholly there and counted, or not at all.
//!
//! What may be stored is decided by the bytes, not by the declaration (see [`content_type`]).
//!
//! Plugins reach this through the `media` WIT interface (capability `media`, see
//! `CallGrants::media`); operators through the admin API (`api::media`) and `plaza media`.

pub mod content_type;
mod host;
pub mod range;

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::validate_id;
use crate::error::{PlazaError, Result};
use crate::messaging::content::MessageContent;
use crate::storage::backend::{child, key, prefix};
use crate::storage::{Bytes, Json, Page, Pending, Store, Table, Tx};

/// Largest blob, in bytes (20 MiB): enough for a WeChat video message (10 MB) or a long voice
/// note with room to spare, small enough that one upload is one reasonable unit of work. The
/// admin upload route's body limit is this too.
pub const MAX_BLOB_BYTES: u64 = 20 << 20;

/// An account's media quota unless set otherwise (512 MiB); see [`MediaOptions`] and
/// [`MediaStore::set_quota`].
pub const DEFAULT_QUOTA_BYTES: u64 = 512 << 20;

/// Bytes per stored chunk (256 KiB). Recorded in each blob's metadata, so changing it later
/// keeps older blobs readable.
pub const CHUNK_BYTES: u32 = 256 << 10;

/// Most entries one [`MediaStore::list`] page returns.
pub const MAX_LIST: usize = 1000;

/// Platform-wide media settings.
#[derive(Debug, Clone, Copy)]
pub struct MediaOptions {
    /// The quota of an account that has none of its own.
    pub default_quota_bytes: u64,
}

impl Default for MediaOptions {
    fn default() -> Self {
        MediaOptions {
            default_quota_bytes: DEFAULT_QUOTA_BYTES,
        }
    }
}

/// Who stored a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Uploader {
    /// Through the admin API or the CLI.
    Operator,
    /// Through the `media` WIT interface.
    Plugin { plugin: String },
}

/// A stored blob's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaMeta {
    pub media_id: String,
    /// Canonical and on the allow-list (see [`content_type::check`]).
    pub content_type: String,
    pub size: u64,
    /// Milliseconds since the epoch of the first upload.
    pub created_at: u64,
    pub uploaded_by: Uploader,
    /// The chunk size the blob was cut with.
    pub chunk_bytes: u32,
}

/// What [`MediaStore::put`] answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMedia {
    pub account: String,
    pub media_id: String,
    pub content_type: String,
    pub size: u64,
    /// False when the same bytes were already stored (nothing was written or counted again).
    pub created: bool,
}

impl StoredMedia {
    /// The public URL the blob is served at.
    pub fn url(&self, public_url: &str) -> String {
        url(public_url, &self.account, &self.media_id)
    }
}

/// An account's media usage and quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MediaUsage {
    pub bytes: u64,
    pub blobs: u64,
    pub quota_bytes: u64,
}

/// The stored usage counter of one account.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Usage {
    bytes: u64,
    blobs: u64,
}

/// The public URL of a blob: `{public_url}/media/{account}/{media_id}`
/// (`public_url` is `Platform::public_url()`).
pub fn url(public_url: &str, account: &str, media_id: &str) -> String {
    format!(
        "{}/media/{account}/{media_id}",
        public_url.trim_end_matches('/')
    )
}

/// The media id of `bytes`: lowercase hex SHA-256.
pub fn media_id_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `id` is a media id (64 lowercase hex digits); `invalid` naming the rule otherwise.
pub fn check_media_id(id: &str) -> Result<()> {
    if id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        let shown: String = id.chars().take(80).collect();
        Err(PlazaError::invalid(format!(
            "{shown:?} is not a media id: a media id is the SHA-256 of the bytes as 64 lowercase \
             hex digits"
        )))
    }
}

fn chunk_count(size: u64, chunk_bytes: u32) -> u64 {
    size.div_ceil(u64::from(chunk_bytes.max(1)))
}

/// The account's blobs, their chunks, usage counters and quotas.
#[derive(Clone)]
pub struct MediaStore {
    store: Arc<Store>,
    /// `account \0 media_id` → metadata.
    meta: Table<Json<MediaMeta>>,
    /// `account \0 media_id \0 chunk index (u32, big-endian)` → the chunk's bytes.
    chunks: Table<Bytes>,
    /// `account` → bytes and blobs stored; absent when nothing is.
    usage: Table<Json<Usage>>,
    /// `account` → the account's own quota in bytes, when the operator set one.
    quotas: Table<Json<u64>>,
    opts: MediaOptions,
}

impl MediaStore {
    pub fn new(store: Arc<Store>, opts: MediaOptions) -> Result<Self> {
        Ok(MediaStore {
            meta: store.table("media")?,
            chunks: store.table("media_chunks")?,
            usage: store.table("media_usage")?,
            quotas: store.table("media_quotas")?,
            store,
            opts,
        })
    }

    fn meta_key(account: &str, media_id: &str) -> Vec<u8> {
        child(&[account], media_id.as_bytes())
    }

    fn chunk_key(account: &str, media_id: &str, index: u64) -> Vec<u8> {
        // A blob has at most MAX_BLOB_BYTES / CHUNK_BYTES (80) chunks: a u32 is plenty.
        child(&[account, media_id], &(index as u32).to_be_bytes())
    }

    fn quota_in(&self, tx: &mut Tx<'_>, account: &str) -> Result<u64> {
        Ok(tx
            .get(&self.quotas, &key(&[account]))?
            .unwrap_or(self.opts.default_quota_bytes))
    }

    /// Stores `bytes` for `account` and answers its media id.
    ///
    /// The bytes are sniffed and must be an allowed format that `declared_type` agrees with
    /// (`invalid` otherwise, naming what they look like and what is allowed); more than
    /// [`MAX_BLOB_BYTES`] is `too_large`; more than the account's quota is `quota_exceeded`, and
    /// then nothing is stored. Bytes already stored answer the existing blob (`created: false`,
    /// its first content type and uploader kept) without writing or counting anything.
    ///
    /// Hashing and sniffing 20 MiB takes tens of milliseconds: from async code, prefer
    /// [`MediaStore::upload`], which runs this on the blocking pool.
    pub fn put(
        &self,
        account: &str,
        bytes: &[u8],
        declared_type: &str,
        uploader: Uploader,
        now_ms: u64,
    ) -> Result<Pending<StoredMedia>> {
        validate_id("account", account)?;
        if bytes.is_empty() {
            return Err(PlazaError::invalid("an empty blob cannot be stored"));
        }
        let size = bytes.len() as u64;
        if size > MAX_BLOB_BYTES {
            return Err(PlazaError::TooLarge(format!(
                "media is {size} bytes; the limit per blob is {MAX_BLOB_BYTES} bytes (20 MiB)"
            )));
        }
        let content_type = content_type::check(bytes, declared_type)?;
        let media_id = media_id_of(bytes);
        let meta_key = Self::meta_key(account, &media_id);
        let account_key = key(&[account]);
        self.store.write(|tx| {
            if let Some(existing) = tx.get(&self.meta, &meta_key)? {
                return Ok(StoredMedia {
                    account: account.to_string(),
                    media_id: existing.media_id,
                    content_type: existing.content_type,
                    size: existing.size,
                    created: false,
                });
            }
            let quota = self.quota_in(tx, account)?;
            let mut usage = tx.get(&self.usage, &account_key)?.unwrap_or_default();
            let after = usage.bytes.saturating_add(size);
            if after > quota {
                return Err(PlazaError::QuotaExceeded {
                    message: format!(
                        "account {account:?} stores {} bytes of media; {size} more would exceed \
                         its quota of {quota} bytes. Delete media it no longer needs, or ask the \
                         operator to raise the quota",
                        usage.bytes
                    ),
                    resets_at: None,
                });
            }
            let meta = MediaMeta {
                media_id: media_id.clone(),
                content_type: content_type.to_string(),
                size,
                created_at: now_ms,
                uploaded_by: uploader.clone(),
                chunk_bytes: CHUNK_BYTES,
            };
            tx.put(&self.meta, &meta_key, &meta)?;
            for (i, chunk) in bytes.chunks(CHUNK_BYTES as usize).enumerate() {
                tx.put_bytes(
                    &self.chunks,
                    &Self::chunk_key(account, &media_id, i as u64),
                    chunk,
                )?;
            }
            usage.bytes = after;
            usage.blobs += 1;
            tx.put(&self.usage, &account_key, &usage)?;
            Ok(StoredMedia {
                account: account.to_string(),
                media_id: media_id.clone(),
                content_type: content_type.to_string(),
                size,
                created: true,
            })
        })
    }

    /// [`MediaStore::put`] on the blocking pool, answered once durable.
    pub async fn upload(
        &self,
        account: &str,
        bytes: Vec<u8>,
        declared_type: &str,
        uploader: Uploader,
        now_ms: u64,
    ) -> Result<StoredMedia> {
        let this = self.clone();
        let account = account.to_string();
        let declared = declared_type.to_string();
        let pending = tokio::task::spawn_blocking(move || {
            this.put(&account, &bytes, &declared, uploader, now_ms)
        })
        .await
        .map_err(|e| PlazaError::internal(format!("media upload task failed: {e}")))??;
        pending.durable().await
    }

    /// A blob's metadata: `invalid` for a malformed id, `not_found` when the account has no such
    /// blob.
    pub fn meta(&self, account: &str, media_id: &str) -> Result<MediaMeta> {
        validate_id("account", account)?;
        check_media_id(media_id)?;
        self.meta
            .get(&Self::meta_key(account, media_id))?
            .ok_or_else(|| not_found(account, media_id))
    }

    /// Whether the account has this blob (false for a malformed id).
    pub fn contains(&self, account: &str, media_id: &str) -> Result<bool> {
        if validate_id("account", account).is_err() || check_media_id(media_id).is_err() {
            return Ok(false);
        }
        self.meta.contains(&Self::meta_key(account, media_id))
    }

    /// A blob's metadata and all of its bytes.
    pub fn get(&self, account: &str, media_id: &str) -> Result<(MediaMeta, Vec<u8>)> {
        let meta = self.meta(account, media_id)?;
        let bytes = self.read(account, &meta, 0..meta.size)?;
        Ok((meta, bytes))
    }

    /// Bytes `range` (end exclusive) of a blob, reading only the chunks that hold them;
    /// `invalid` when the range is empty or passes the end.
    pub fn read_range(&self, account: &str, media_id: &str, range: Range<u64>) -> Result<Vec<u8>> {
        let meta = self.meta(account, media_id)?;
        self.read(account, &meta, range)
    }

    fn read(&self, account: &str, meta: &MediaMeta, range: Range<u64>) -> Result<Vec<u8>> {
        let Range { start, end } = range;
        if start >= end || end > meta.size {
            return Err(PlazaError::invalid(format!(
                "byte range {start}..{end} is not within the blob's {} bytes",
                meta.size
            )));
        }
        let c = u64::from(meta.chunk_bytes.max(1));
        let (first, last) = (start / c, (end - 1) / c);
        let rows = self.chunks.range(
            &Self::chunk_key(account, &meta.media_id, first),
            &Self::chunk_key(account, &meta.media_id, last + 1),
            (last - first + 1) as usize,
        )?;
        if rows.len() as u64 != last - first + 1 {
            // Deleted between reading the metadata and the chunks.
            return Err(not_found(account, &meta.media_id));
        }
        let mut out = Vec::with_capacity((end - start) as usize);
        for (i, (_, chunk)) in rows.iter().enumerate() {
            let chunk_start = (first + i as u64) * c;
            let from = (start.max(chunk_start) - chunk_start) as usize;
            let to = (end.min(chunk_start + chunk.len() as u64) - chunk_start) as usize;
            out.extend_from_slice(chunk.get(from..to).ok_or_else(|| {
                PlazaError::internal(format!(
                    "media {} of {account:?}: chunk {} is shorter than recorded",
                    meta.media_id,
                    first + i as u64
                ))
            })?);
        }
        if out.len() as u64 != end - start {
            return Err(PlazaError::internal(format!(
                "media {} of {account:?}: stored chunks hold fewer bytes than recorded",
                meta.media_id
            )));
        }
        Ok(out)
    }

    /// Removes a blob and frees its bytes from the account's quota; false when there was none.
    /// Messages that referred to it keep the id (their URL then answers 404).
    pub fn delete(&self, account: &str, media_id: &str) -> Result<Pending<bool>> {
        validate_id("account", account)?;
        check_media_id(media_id)?;
        let meta_key = Self::meta_key(account, media_id);
        let account_key = key(&[account]);
        self.store.write(|tx| {
            let Some(meta) = tx.take(&self.meta, &meta_key)? else {
                return Ok(false);
            };
            for i in 0..chunk_count(meta.size, meta.chunk_bytes) {
                tx.delete(&self.chunks, &Self::chunk_key(account, media_id, i))?;
            }
            let mut usage = tx.get(&self.usage, &account_key)?.unwrap_or_default();
            usage.bytes = usage.bytes.saturating_sub(meta.size);
            usage.blobs = usage.blobs.saturating_sub(1);
            if usage == Usage::default() {
                tx.delete(&self.usage, &account_key)?;
            } else {
                tx.put(&self.usage, &account_key, &usage)?;
            }
            Ok(true)
        })
    }

    /// One page of the account's blobs in media-id order; `cursor` is the last media id of the
    /// previous page. `limit` is clamped to 1..=[`MAX_LIST`].
    pub fn list(
        &self,
        account: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<MediaMeta>> {
        validate_id("account", account)?;
        if let Some(c) = cursor {
            check_media_id(c)?;
        }
        self.meta
            .page(&prefix(&[account]), cursor, limit.clamp(1, MAX_LIST))
    }

    /// What the account stores and may store.
    pub fn usage(&self, account: &str) -> Result<MediaUsage> {
        validate_id("account", account)?;
        let k = key(&[account]);
        let usage = self.usage.get(&k)?.unwrap_or_default();
        Ok(MediaUsage {
            bytes: usage.bytes,
            blobs: usage.blobs,
            quota_bytes: self
                .quotas
                .get(&k)?
                .unwrap_or(self.opts.default_quota_bytes),
        })
    }

    /// Sets the account's own quota in bytes (`None`: back to the platform default). A quota
    /// below what is stored keeps what is stored and refuses further puts.
    pub fn set_quota(&self, account: &str, quota_bytes: Option<u64>) -> Result<Pending<()>> {
        validate_id("account", account)?;
        let k = key(&[account]);
        self.store.write(|tx| {
            match quota_bytes {
                Some(q) => tx.put(&self.quotas, &k, &q)?,
                None => {
                    tx.delete(&self.quotas, &k)?;
                }
            }
            Ok(())
        })
    }

    /// Fills in the URL of an image, voice or video message that names a media id of the
    /// account's store and has no URL yet (the local channel's outbox shows it to followers).
    pub fn resolve_url(
        &self,
        public_url: &str,
        account: &str,
        content: &mut MessageContent,
    ) -> Result<()> {
        let (MessageContent::Image { media_id, url }
        | MessageContent::Voice { media_id, url }
        | MessageContent::Video { media_id, url }) = content
        else {
            return Ok(());
        };
        if url.is_none() && self.contains(account, media_id)? {
            *url = Some(self::url(public_url, account, media_id));
        }
        Ok(())
    }
}

fn not_found(account: &str, media_id: &str) -> PlazaError {
    PlazaError::not_found(format!("account {account:?} has no media {media_id}"))
}

#[cfg(test)]
mod tests {
    use super::content_type::samples;
    use super::*;
    use crate::storage::testing::{assert_fails_whole, done, dump, faulty_store};

    const NOW: u64 = 1_773_100_800_000;

    fn media(
        quota: u64,
    ) -> (
        tempfile::TempDir,
        Arc<crate::storage::testing::FaultyBackend>,
        Arc<Store>,
        MediaStore,
    ) {
        let (dir, faulty, store) = faulty_store();
        let m = MediaStore::new(
            store.clone(),
            MediaOptions {
                default_quota_bytes: quota,
            },
        )
        .unwrap();
        (dir, faulty, store, m)
    }

    /// A PNG header followed by `len` bytes of a pattern that differs per position and `seed`.
    fn png_of(len: usize, seed: u8) -> Vec<u8> {
        let mut v = samples::png();
        v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8));
        v
    }

    fn put(m: &MediaStore, account: &str, bytes: &[u8]) -> Result<StoredMedia> {
        done(m.put(account, bytes, "image/png", Uploader::Operator, NOW))
    }

    #[test]
    fn the_id_is_the_sha256_and_the_same_bytes_are_stored_and_counted_once() {
        let (_d, _f, store, m) = media(DEFAULT_QUOTA_BYTES);
        let bytes = png_of(1000, 1);
        let first = put(&m, "acc", &bytes).unwrap();
        assert_eq!(first.media_id, hex::encode(Sha256::digest(&bytes)));
        assert!(first.created);
        let before = dump(&store);
        let again = done(m.put(
            "acc",
            &bytes,
            "image/png",
            Uploader::Plugin {
                plugin: "shop".into(),
            },
            NOW + 1,
        ))
        .unwrap();
        assert_eq!(again.media_id, first.media_id);
        assert!(!again.created);
        assert_eq!(dump(&store), before, "a repeat writes nothing");
        let usage = m.usage("acc").unwrap();
        assert_eq!((usage.bytes, usage.blobs), (bytes.len() as u64, 1));
        let (meta, read) = m.get("acc", &first.media_id).unwrap();
        assert_eq!(read, bytes);
        assert_eq!(
            meta.uploaded_by,
            Uploader::Operator,
            "the first upload is kept"
        );
        assert_eq!(meta.created_at, NOW);
        assert_eq!(meta.content_type, "image/png");
    }

    #[test]
    fn ranges_read_only_their_chunks_and_are_exact_at_chunk_boundaries() {
        let (_d, _f, store, m) = media(DEFAULT_QUOTA_BYTES);
        let c = CHUNK_BYTES as u64;
        // Two full chunks and a partial third.
        let bytes = png_of(2 * c as usize + 1000 - samples::png().len(), 7);
        let size = bytes.len() as u64;
        let s = put(&m, "acc", &bytes).unwrap();
        let chunk_records = dump(&store)
            .into_iter()
            .filter(|(t, _, _)| t == "media_chunks")
            .map(|(_, _, v)| v.len() as u64)
            .collect::<Vec<_>>();
        assert_eq!(
            chunk_records,
            vec![c, c, 1000],
            "no record larger than a chunk"
        );
        let cases = [
            0..1,
            0..c,
            c - 1..c + 1,
            c..2 * c,
            c - 1..2 * c + 1,
            2 * c..size,
            size - 1..size,
            0..size,
            5..c - 5,
        ];
        for r in cases {
            let got = m.read_range("acc", &s.media_id, r.clone()).unwrap();
            assert_eq!(got, &bytes[r.start as usize..r.end as usize], "{r:?}");
        }
        for bad in [0..0, 5..5, size..size + 1, 0..size + 1] {
            let e = m.read_range("acc", &s.media_id, bad.clone()).unwrap_err();
            assert!(matches!(e, PlazaError::Invalid(_)), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_put_past_the_quota_is_refused_and_stores_nothing_and_delete_frees_it() {
        let (_d, _f, store, m) = media(3000);
        let a = png_of(1500, 1);
        let b = png_of(1500, 2);
        let sa = put(&m, "acc", &a).unwrap();
        let before = dump(&store);
        let e = put(&m, "acc", &b).unwrap_err();
        let PlazaError::QuotaExceeded { message, .. } = &e else {
            panic!("{e}")
        };
        assert!(message.contains("quota of 3000 bytes"), "{message}");
        assert_eq!(
            dump(&store),
            before,
            "nothing of the refused blob is stored"
        );
        // The same bytes again cost nothing, so they are not refused.
        assert!(!put(&m, "acc", &a).unwrap().created);
        // Another account has a quota of its own.
        put(&m, "other", &b).unwrap();

        assert!(done(m.delete("acc", &sa.media_id)).unwrap());
        assert!(!done(m.delete("acc", &sa.media_id)).unwrap());
        assert_eq!(m.usage("acc").unwrap().bytes, 0);
        assert!(matches!(
            m.get("acc", &sa.media_id),
            Err(PlazaError::NotFound(_))
        ));
        assert!(
            !dump(&store)
                .iter()
                .any(|(t, k, _)| t.starts_with("media") && (k.starts_with(b"acc\0") || k == b"acc")),
            "no record of the account's media is left"
        );
        put(&m, "acc", &b).unwrap();

        // The operator's own quota for the account replaces the default, and can be removed.
        done(m.set_quota("acc", Some(100))).unwrap();
        assert_eq!(m.usage("acc").unwrap().quota_bytes, 100);
        assert!(matches!(
            put(&m, "acc", &png_of(10, 3)),
            Err(PlazaError::QuotaExceeded { .. })
        ));
        done(m.set_quota("acc", None)).unwrap();
        assert_eq!(m.usage("acc").unwrap().quota_bytes, 3000);
        put(&m, "acc", &png_of(10, 3)).unwrap();
    }

    #[test]
    fn the_size_cap_and_bad_input_are_refused_before_anything_is_written() {
        let (_d, _f, store, m) = media(u64::MAX);
        let before = dump(&store);
        let big = png_of(MAX_BLOB_BYTES as usize + 1 - samples::png().len(), 0);
        assert!(matches!(put(&m, "acc", &big), Err(PlazaError::TooLarge(_))));
        let exact = png_of(MAX_BLOB_BYTES as usize - samples::png().len(), 0);
        let s = put(&m, "acc", &exact).unwrap();
        assert_eq!(s.size, MAX_BLOB_BYTES);
        done(m.delete("acc", &s.media_id)).unwrap();
        assert!(matches!(put(&m, "acc", b""), Err(PlazaError::Invalid(_))));
        assert!(matches!(
            put(&m, "acc", &samples::html()),
            Err(PlazaError::Invalid(_))
        ));
        assert!(matches!(
            put(&m, "no such/acc", &samples::png()),
            Err(PlazaError::Invalid(_))
        ));
        assert_eq!(dump(&store), before);
        for bad in ["", "abc", &"A".repeat(64), &"g".repeat(64), &"0".repeat(65)] {
            assert!(
                matches!(m.get("acc", bad), Err(PlazaError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            m.get("acc", &"0".repeat(64)),
            Err(PlazaError::NotFound(_))
        ));
    }

    #[test]
    fn a_fault_at_the_second_write_of_a_put_or_delete_changes_nothing() {
        let (_d, faulty, store, m) = media(DEFAULT_QUOTA_BYTES);
        let bytes = png_of(3 * CHUNK_BYTES as usize, 9);
        assert_fails_whole(&store, &faulty, "put", || {
            m.put("acc", &bytes, "image/png", Uploader::Operator, NOW)
        });
        let s = put(&m, "acc", &bytes).unwrap();
        assert_fails_whole(&store, &faulty, "delete", || m.delete("acc", &s.media_id));
        assert_eq!(m.get("acc", &s.media_id).unwrap().1, bytes);
    }

    #[test]
    fn accounts_see_only_their_own_blobs_and_pages_continue() {
        let (_d, _f, _store, m) = media(DEFAULT_QUOTA_BYTES);
        let mut ids: Vec<String> = (0..5)
            .map(|i| put(&m, "acc", &png_of(10, i)).unwrap().media_id)
            .collect();
        ids.sort();
        let theirs = put(&m, "acc2", &png_of(10, 100)).unwrap();
        assert!(matches!(
            m.get("acc", &theirs.media_id),
            Err(PlazaError::NotFound(_))
        ));
        let p1 = m.list("acc", None, 3).unwrap();
        let p2 = m.list("acc", p1.next_cursor.as_deref(), 3).unwrap();
        assert_eq!(p2.next_cursor, None);
        let listed: Vec<String> = p1
            .values()
            .into_iter()
            .chain(p2.values())
            .map(|m| m.media_id)
            .collect();
        assert_eq!(listed, ids);
    }

    #[test]
    fn outbox_media_messages_get_the_served_url_when_the_blob_is_stored() {
        let (_d, _f, _store, m) = media(DEFAULT_QUOTA_BYTES);
        let s = put(&m, "acc", &png_of(10, 1)).unwrap();
        let base = "https://plaza.example/";
        let mut known = MessageContent::Image {
            media_id: s.media_id.clone(),
            url: None,
        };
        m.resolve_url(base, "acc", &mut known).unwrap();
        assert_eq!(
            known,
            MessageContent::Image {
                media_id: s.media_id.clone(),
                url: Some(format!("https://plaza.example/media/acc/{}", s.media_id)),
            }
        );
        // Another account's blob, a channel's own id, or a URL already set: left as they are.
        for mut c in [
            MessageContent::Video {
                media_id: s.media_id.clone(),
                url: Some("https://cdn.example/v.mp4".into()),
            },
            MessageContent::Voice {
                media_id: "wx-media-1".into(),
                url: None,
            },
        ] {
            let before = c.clone();
            m.resolve_url(base, "acc", &mut c).unwrap();
            assert_eq!(c, before);
        }
        let mut other = MessageContent::Image {
            media_id: s.media_id.clone(),
            url: None,
        };
        m.resolve_url(base, "acc2", &mut other).unwrap();
        assert_eq!(
            other,
            MessageContent::Image {
                media_id: s.media_id,
                url: None
            }
        );
    }
}
