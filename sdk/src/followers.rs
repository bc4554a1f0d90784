//! The account's followers. Reading needs `followers.read`; tagging, attributes, profile updates
//! and counters need `followers.write` (tags must exist: see [`crate::tags`]).

use crate::__private::plaza::platform::followers as wit;
use crate::{Error, Openid};

pub use wit::{Follower, Page, ProfileUpdate};

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

/// Removes a custom attribute; `true` if it existed.
pub fn remove_attribute(id: &str, key: &str) -> Result<bool, Error> {
    wit::remove_attribute(id, key)
}

/// Changes the profile fields set in `update` (the others stay), e.g. after a mini-program
/// synced them; returns the follower as it is now.
pub fn update_profile(id: &str, update: &ProfileUpdate) -> Result<Follower, Error> {
    wit::update_profile(id, update)
}

impl Follower {
    /// A behaviour counter's value (`0` if never counted).
    pub fn counter(&self, name: &str) -> i64 {
        self.counters
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// A custom attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Adds `delta` to a behaviour counter (e.g. `"purchases"`); returns the new value.
pub fn count(id: &str, counter: &str, delta: i64) -> Result<i64, Error> {
    wit::count(id, counter, delta)
}

/// Every follower matching `segment` (`None` = everyone), fetched a page at a time as the
/// iterator advances. A failing page ends the iteration with that error.
pub fn list_all(segment: Option<&str>) -> impl Iterator<Item = Result<Follower, Error>> {
    let segment = segment.map(str::to_string);
    crate::paging::pages(move |cursor| {
        let page = list(segment.as_deref(), cursor, 200)?;
        Ok((page.items, page.next_cursor))
    })
}
