//! Signed follower links: a URL to one of this plugin's own routes that tells the route which
//! follower opened it, without a login. Send it in a message (a menu item, an article link, a
//! button); when the follower opens it, [`Plugin::on_http`](crate::Plugin::on_http) gets
//! `ctx.follower` set by the host, which checked the signature, the expiry and that the link was
//! made for this account and plugin. Needs `http.routes` (the link leads to your routes).

use crate::__private::plaza::platform::links as wit;
use crate::Error;

/// An absolute URL to `/p/{account}/{this plugin}{path}` for `openid`, valid for `ttl_seconds`
/// (at most 30 days). `path` starts with `/` and may carry a query.
pub fn follower_url(openid: &str, path: &str, ttl_seconds: u32) -> Result<String, Error> {
    wit::follower_url(openid, path, ttl_seconds)
}
