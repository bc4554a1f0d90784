//! The seam between the shop's own orders and catalogue and the external-shop bridge
//! ([`crate::bridge`]): the bridge speaks these host-neutral types, the shop maps them onto its
//! orders ([`crate::orders::apply_external`]) and answers its catalogue as snapshots
//! ([`crate::catalogue::snapshots`]) for the outbound product and stock sync.

use serde::{Deserialize, Serialize};

/// Where an external order stands, as the bridge understood the external shop's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalStatus {
    Created,
    Paid,
    Shipped,
    Completed,
    Cancelled,
    Refunded,
}

/// One line of an external order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalItem {
    /// The external shop's SKU code (the bridge maps it to ours when it can; may be unknown).
    pub sku: String,
    pub title: String,
    pub quantity: u32,
    pub price_cents: i64,
}

/// An order placed in an external shop (有赞 / 微小店 / Shopify style), as delivered by its webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalOrder {
    /// The bridge that received it (operator-chosen id, e.g. `youzan-main`).
    pub bridge: String,
    /// The external shop's order id: the idempotency key together with `bridge`.
    pub external_id: String,
    /// The follower who bought, when the payload names one (an openid the shop passed through).
    pub openid: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    pub status: ExternalStatus,
    pub items: Vec<ExternalItem>,
    /// When the external shop says this state was reached (ms since the epoch).
    pub at: u64,
}

/// What applying an external order did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedExternal {
    /// The shop's own order id for it (the same on every delivery of the same external order).
    pub order_id: String,
    /// True when this delivery moved the order to paid (the paid side effects ran exactly then).
    pub became_paid: bool,
    /// True when nothing changed (a repeated or stale delivery).
    pub unchanged: bool,
}

/// One SKU of the catalogue as the outbound sync sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSnapshot {
    pub product_id: String,
    pub sku_id: String,
    pub title: String,
    pub price_cents: i64,
    pub stock: i64,
}
