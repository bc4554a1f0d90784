//! WIT host impl of `links`: a link leads to the calling plugin's own routes, so it needs
//! `http.routes`; the account and plugin come from the grant, never from the plugin.

use crate::error::Result;
use crate::runtime::bindings::v0_2_0::links;
use crate::runtime::state::CallState;

impl links::Host for CallState {
    async fn follower_url(
        &mut self,
        openid: String,
        path: String,
        ttl_seconds: u32,
    ) -> Result<String> {
        let actor = self.grants.links()?;
        let now = self.platform.clock.now_ms();
        self.platform
            .follower_url(
                &actor.account,
                &actor.plugin,
                &openid,
                &path,
                ttl_seconds,
                now,
            )
            .await
    }
}
