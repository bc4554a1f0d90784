//! The account's tag registry. Needs `tags.manage`. Putting tags on followers is
//! [`followers::tag`](crate::followers::tag) (`followers.write`).

use crate::__private::plaza::platform::tags as wit;
use crate::Error;

pub use wit::Tag;

/// Every tag of the account, by name, with how many subscribed followers carry it.
pub fn list() -> Result<Vec<Tag>, Error> {
    wit::list()
}

/// Creates a tag; [`Error::Conflict`] if it exists.
pub fn create(name: &str) -> Result<Tag, Error> {
    wit::create(name)
}

/// Creates the tag unless it exists already (a plugin making sure its level tags exist).
pub fn ensure(name: &str) -> Result<(), Error> {
    match create(name) {
        Ok(_) | Err(Error::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
