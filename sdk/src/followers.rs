//! The account's followers. Reading needs `followers.read`; tagging, attributes and counters
//! need `followers.write`.

use crate::__private::plaza::platform::followers as wit;
use crate::{Error, Openid};

pub use wit::{Follower, Page};

/// One follower's profile.
pub fn get(id: &str) -> Result<Follower, Error> {
    wit::get(id)
}

/// A page of up to `limit` followers matching `segment` (the host's predicate language; `None`
/// = everyone). Pass the returned `next_cursor` back as `cursor` to continue.
pub fn list(segment: Option<&str>, cursor: Option<&str>, limit: u32) -> Result<Page, Error> {
    wit::list(segment, cursor, limit)
}

/// Adds `tag` to each follower in `ids`.
pub fn tag(ids: &[Openid], tag: &str) -> Result<(), Error> {
    wit::tag(ids, tag)
}

/// Removes `tag` from each follower in `ids`.
pub fn untag(ids: &[Openid], tag: &str) -> Result<(), Error> {
    wit::untag(ids, tag)
}

/// Sets a custom attribute on a follower.
pub fn set_attribute(id: &str, key: &str, value: &str) -> Result<(), Error> {
    wit::set_attribute(id, key, value)
}

/// Adds `delta` to a behaviour counter (e.g. `"purchases"`); returns the new value.
pub fn count(id: &str, counter: &str, delta: i64) -> Result<i64, Error> {
    wit::count(id, counter, delta)
}
