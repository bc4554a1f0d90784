//! WIT host impl of `media`: the account comes from the call's media grant; a stored blob is
//! durable before the plugin hears back.

use super::Uploader;
use crate::error::Result;
use crate::runtime::bindings::v0_2_0::media;
use crate::runtime::state::CallState;

impl media::Host for CallState {
    async fn put(&mut self, bytes: Vec<u8>, content_type: String) -> Result<media::Stored> {
        let actor = self.grants.media()?;
        let now = self.platform.clock.now_ms();
        let stored = self
            .platform
            .media
            .upload(
                &actor.account,
                bytes,
                &content_type,
                Uploader::Plugin {
                    plugin: actor.plugin,
                },
                now,
            )
            .await?;
        Ok(media::Stored {
            url: stored.url(&self.platform.public_url()),
            media_id: stored.media_id,
            content_type: stored.content_type,
            size: stored.size,
        })
    }

    async fn get(&mut self, media_id: String) -> Result<media::Blob> {
        let actor = self.grants.media()?;
        let (meta, bytes) = self.platform.media.get(&actor.account, &media_id)?;
        Ok(media::Blob {
            content_type: meta.content_type,
            bytes,
        })
    }

    async fn delete(&mut self, media_id: String) -> Result<bool> {
        let actor = self.grants.media()?;
        self.platform
            .media
            .delete(&actor.account, &media_id)?
            .durable()
            .await
    }
}
