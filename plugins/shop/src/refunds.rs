//! Payments the shop received but cannot keep: a notification for an order already cancelled
//! (the buyer paid after the expiry timer gave the stock back) or a second payment of an order
//! already paid. The provider must hear `SUCCESS` (or it retries for a day), and the money must
//! not be forgotten: each becomes a **refund due**, kept per transaction id (so a retried
//! notification records it once), announced as the event `shop.payment.refund_due`, listed for
//! the operator and marked done by them once the money went back.

use plaza_sdk::prelude::*;
use plaza_sdk::{events, log, storage};
use serde::{Deserialize, Serialize};

const PREFIX: &str = "refund-due/";

/// One payment to give back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundDue {
    pub transaction_id: String,
    pub order_id: String,
    pub amount_cents: i64,
    /// Why the order could not take it (`order cancelled`, `order already paid by …`).
    pub reason: String,
    pub received_at: u64,
    /// Set when the operator says the refund was made.
    pub done_at: Option<u64>,
    pub done_by: Option<String>,
}

fn key(txn: &str) -> String {
    format!("{PREFIX}{txn}")
}

/// Records `due` unless its transaction is already recorded; `true` when it is new. A new one is
/// announced as `shop.payment.refund_due` (a failure to emit is logged: the record is what counts).
pub fn record(due: &RefundDue) -> Result<bool> {
    let value = serde_json::to_vec(due)
        .map_err(|e| Error::internal(format!("cannot encode a refund due: {e}")))?;
    if !storage::compare_and_swap(&key(&due.transaction_id), None, Some(&value))? {
        return Ok(false);
    }
    log::error(format!(
        "payment {} for order {} kept as a refund due ({}): refund {} cents",
        due.transaction_id, due.order_id, due.reason, due.amount_cents
    ));
    let amount = due.amount_cents.to_string();
    if let Err(e) = events::emit(
        "shop.payment.refund_due",
        None,
        &[
            ("order_id", &due.order_id),
            ("transaction_id", &due.transaction_id),
            ("amount_cents", &amount),
        ],
    ) {
        log::warn(format!(
            "refund due {}: event not emitted: {}",
            due.transaction_id,
            e.display()
        ));
    }
    Ok(true)
}

/// Every refund due, oldest transaction id first; `open_only` leaves out those marked done.
pub fn list(open_only: bool) -> Result<Vec<RefundDue>> {
    let mut out = Vec::new();
    for entry in storage::scan_prefix_json::<RefundDue>(PREFIX) {
        let (_, due) = entry?;
        if !(open_only && due.done_at.is_some()) {
            out.push(due);
        }
    }
    Ok(out)
}

/// Marks the refund of `txn` made, by `by` at `now`; marking it again changes nothing.
/// `not_found` for a transaction with no refund due.
pub fn mark_done(txn: &str, by: &str, now: u64) -> Result<RefundDue> {
    let updated = storage::update_json::<RefundDue, _>(&key(txn), |current| {
        let mut due =
            current.ok_or_else(|| Error::not_found(format!("no refund due for {txn:?}")))?;
        if due.done_at.is_none() {
            due.done_at = Some(now);
            due.done_by = Some(by.to_string());
        }
        Ok(Some(due))
    })?;
    updated.ok_or_else(|| Error::not_found(format!("no refund due for {txn:?}")))
}
