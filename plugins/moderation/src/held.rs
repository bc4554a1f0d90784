//! The review queue: messages a `hold` list stopped, waiting for an operator.
//!
//! An item is stored under `held:{id}` when the review hook holds a message. Its state moves
//! `pending → approved → delivered` or `pending → rejected`; every move is a compare-and-swap of
//! the stored item ([`plaza_sdk::storage::update_json`]), so of two operators approving at the
//! same moment exactly one wins and delivers, the other gets `409`. If the delivery fails (e.g.
//! the follower's 48 h window closed), the item returns to `pending` and the error is reported.

use plaza_sdk::Error;
use serde::{Deserialize, Serialize};

use crate::content::StoredContent;

/// Storage key prefix of held items.
pub const PREFIX: &str = "held:";
/// Counter that numbers held items.
pub const SEQUENCE: &str = "held-sequence";

/// Where a held item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for an operator.
    Pending,
    /// An operator approved it; the delivery is under way (or failed mid-way, see module docs).
    Approved,
    /// Approved and delivered (`message_id` says which message).
    Delivered,
    /// An operator rejected it: never delivered.
    Rejected,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Delivered => "delivered",
            State::Rejected => "rejected",
        }
    }
}

/// One held message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldItem {
    pub id: String,
    pub state: State,
    /// The follower it was for.
    pub to: String,
    pub content: StoredContent,
    pub lists: Vec<String>,
    pub words: Vec<String>,
    /// Milliseconds since the epoch.
    pub held_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<u64>,
    /// The delivered message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// The id of the `n`-th held item: zero-padded so that storage order is holding order.
pub fn id(n: i64) -> String {
    format!("h{n:010}")
}

/// Whether `id` has the shape [`id`] gives (path segments are checked before they become keys).
pub fn valid_id(id: &str) -> bool {
    id.len() == 11 && id.starts_with('h') && id[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The storage key of an item.
pub fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// `pending → to` (approve or reject); `conflict` if the item was already decided.
pub fn decide(item: Option<HeldItem>, id: &str, to: State, now: u64) -> Result<HeldItem, Error> {
    let mut item = item.ok_or_else(|| Error::not_found(format!("no held message {id}")))?;
    if item.state != State::Pending {
        return Err(Error::conflict(format!(
            "held message {id} is already {}",
            item.state.as_str()
        )));
    }
    item.state = to;
    item.decided_at = Some(now);
    Ok(item)
}

/// `approved → delivered` with the message id.
pub fn delivered(item: Option<HeldItem>, id: &str, message_id: &str) -> Result<HeldItem, Error> {
    let mut item = item.ok_or_else(|| Error::internal(format!("held message {id} vanished")))?;
    item.state = State::Delivered;
    item.message_id = Some(message_id.to_string());
    Ok(item)
}

/// `approved → pending` after a failed delivery (left as it is if someone else moved it).
pub fn undo_approval(item: Option<HeldItem>) -> Result<Option<HeldItem>, Error> {
    Ok(item.map(|mut item| {
        if item.state == State::Approved {
            item.state = State::Pending;
            item.decided_at = None;
        }
        item
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> HeldItem {
        HeldItem {
            id: id(7),
            state: State::Pending,
            to: "o-1".into(),
            content: StoredContent::Text {
                content: "x".into(),
            },
            lists: vec!["l".into()],
            words: vec!["w".into()],
            held_at: 1,
            decided_at: None,
            message_id: None,
        }
    }

    #[test]
    fn ids_sort_in_holding_order_and_are_checked() {
        assert_eq!(id(7), "h0000000007");
        assert!(id(9) < id(10));
        assert!(valid_id(&id(123)));
        for bad in ["", "h1", "x0000000001", "h00000000a1", "h0000000001/x"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn an_item_is_decided_once() {
        let approved = decide(Some(item()), "h", State::Approved, 5).unwrap();
        assert_eq!(approved.state, State::Approved);
        assert_eq!(approved.decided_at, Some(5));
        let again = decide(Some(approved.clone()), "h", State::Approved, 6).unwrap_err();
        assert_eq!(again.code(), "conflict");
        let reject = decide(Some(approved.clone()), "h", State::Rejected, 6).unwrap_err();
        assert_eq!(reject.code(), "conflict");
        assert_eq!(
            decide(None, "h", State::Rejected, 6).unwrap_err().code(),
            "not_found"
        );
        let done = delivered(Some(approved.clone()), "h", "m1").unwrap();
        assert_eq!(
            (done.state, done.message_id.as_deref()),
            (State::Delivered, Some("m1"))
        );
        let back = undo_approval(Some(approved)).unwrap().unwrap();
        assert_eq!(back.state, State::Pending);
        let kept = undo_approval(Some(done)).unwrap().unwrap();
        assert_eq!(kept.state, State::Delivered);
    }
}
