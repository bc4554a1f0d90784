//! The external-shop bridge (有赞 / 微小店 / Shopify style): verified inbound webhooks mapped to
//! orders, outbound product and stock sync. (Being written; see [`crate::external`].)

use plaza_sdk::router::Router;

/// Adds the bridge's routes to the shop's router.
pub fn mount(router: Router<'_>) -> Router<'_> {
    router
}

/// Called after an operator changes the catalogue (stub until the bridge lands).
pub fn catalogue_changed() {}
