//! TEMPORARY while the 0.2 domain modules are merged: events, media, links, storage.batch.
use crate::error::{PlazaError, Result};
use crate::runtime::bindings::v0_2_0::{events, links};
use crate::runtime::state::CallState;

fn later() -> PlazaError {
    PlazaError::Unavailable("not merged yet".into())
}

impl events::Host for CallState {
    async fn query(
        &mut self,
        _f: events::Filter,
        _c: Option<String>,
        _l: u32,
    ) -> Result<events::Page> {
        Err(later())
    }
    async fn daily(
        &mut self,
        _f: String,
        _t: String,
        _k: Vec<String>,
    ) -> Result<Vec<events::DayCount>> {
        Err(later())
    }
    async fn emit(
        &mut self,
        _k: String,
        _o: Option<String>,
        _p: Vec<events::Property>,
    ) -> Result<String> {
        Err(later())
    }
}
impl links::Host for CallState {
    async fn follower_url(&mut self, _o: String, _p: String, _t: u32) -> Result<String> {
        Err(later())
    }
}
