//! Media of a bridged account on its way to WeChat: an image, voice or video message naming a
//! blob of the account's media store (a plugin's `media.put`, an operator's upload) carries a
//! Plaza media id that WeChat does not know. Before it is sent, the blob is uploaded to WeChat
//! as temporary media (`media/upload`) and the message names WeChat's id instead. Uploads are
//! remembered per blob (`wechat_media`) and reused while WeChat still keeps them (it keeps
//! temporary media 3 days; reuse stops at [`REUSE_FOR_MS`]).

use serde::{Deserialize, Serialize};

use super::errors::WechatError;
use super::settings::WechatSettings;
use crate::messaging::content::MessageContent;
use crate::platform::Platform;
use crate::storage::backend::key;
use crate::storage::{Json, Store, Table};

/// How long an upload is reused: under WeChat's 3 days, so that a message sent at the end of
/// the period still names live media.
pub const REUSE_FOR_MS: u64 = 60 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Uploaded {
    wechat_media_id: String,
    uploaded_at: u64,
}

/// `account \0 plaza media id → WeChat media id`.
pub struct WechatMedia {
    table: Table<Json<Uploaded>>,
}

impl WechatMedia {
    pub fn new(store: &Store) -> crate::error::Result<Self> {
        Ok(WechatMedia {
            table: store.table("wechat_media")?,
        })
    }
}

/// WeChat's `type` for the content, and the blob it names.
fn media_of(content: &MessageContent) -> Option<(&'static str, &str)> {
    match content {
        MessageContent::Image { media_id, .. } => Some(("image", media_id)),
        MessageContent::Voice { media_id, .. } => Some(("voice", media_id)),
        MessageContent::Video { media_id, .. } => Some(("video", media_id)),
        _ => None,
    }
}

/// A file name WeChat accepts for the content type (it decides the format by the extension).
fn filename_for(media_id: &str, content_type: &str) -> String {
    let ext = match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "audio/mpeg" => "mp3",
        "audio/amr" => "amr",
        "audio/wav" | "audio/x-wav" => "wav",
        "video/mp4" => "mp4",
        _ => "bin",
    };
    format!("{media_id}.{ext}")
}

/// Whether the content names a blob of the account's media store (and so must be uploaded).
pub fn names_stored_media(platform: &Platform, account: &str, content: &MessageContent) -> bool {
    media_of(content).is_some_and(|(_, id)| platform.media.contains(account, id).unwrap_or(false))
}

impl Platform {
    /// The content as WeChat can take it: a media message naming a stored blob names WeChat's
    /// upload of it (uploaded now unless a recent upload can be reused); anything else as is.
    pub async fn wechat_content(
        &self,
        account: &str,
        settings: &WechatSettings,
        content: &MessageContent,
    ) -> Result<MessageContent, WechatError> {
        let Some((kind, media_id)) = media_of(content) else {
            return Ok(content.clone());
        };
        let stored = |e: crate::error::PlazaError| WechatError::Unsupported(e.to_string());
        if !self.media.contains(account, media_id).map_err(stored)? {
            // Not ours: a WeChat media id already (e.g. passed through from an inbound message).
            return Ok(content.clone());
        }
        let k = key(&[account, media_id]);
        let now = self.clock.now_ms();
        let cache = &self.wechat_outbound.media;
        let reused = cache
            .table
            .get(&k)
            .map_err(stored)?
            .filter(|u| now.saturating_sub(u.uploaded_at) < REUSE_FOR_MS);
        let wechat_id = match reused {
            Some(u) => u.wechat_media_id,
            None => {
                let (meta, bytes) = self.media.get(account, media_id).map_err(stored)?;
                let id = self
                    .wechat_outbound
                    .client
                    .upload_media(
                        account,
                        settings,
                        kind,
                        &filename_for(media_id, &meta.content_type),
                        &meta.content_type,
                        bytes,
                    )
                    .await?;
                let record = Uploaded {
                    wechat_media_id: id.clone(),
                    uploaded_at: now,
                };
                self.store
                    .write(|tx| tx.put(&cache.table, &k, &record))
                    .map_err(stored)?
                    .detach();
                id
            }
        };
        let mut out = content.clone();
        if let MessageContent::Image { media_id, url }
        | MessageContent::Voice { media_id, url }
        | MessageContent::Video { media_id, url } = &mut out
        {
            *media_id = wechat_id;
            *url = None;
        }
        Ok(out)
    }
}
