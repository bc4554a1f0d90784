//! TEMPORARY while the 0.2 domain modules are merged: events, media, links, storage.batch.
use crate::error::{PlazaError, Result};
use crate::runtime::bindings::v0_2_0::links;
use crate::runtime::state::CallState;

fn later() -> PlazaError {
    PlazaError::Unavailable("not merged yet".into())
}

impl links::Host for CallState {
    async fn follower_url(&mut self, _o: String, _p: String, _t: u32) -> Result<String> {
        Err(later())
    }
}
