//! WIT host impl of `events`: reading needs `events.read`, emitting `events.emit`; the account
//! always comes from the grant, so a plugin reads and writes only its own account's log.

use super::kinds::MAX_EMITS_PER_CALL;
use super::query::{EventFilter, parse_timezone};
use crate::error::{PlazaError, Result};
use crate::runtime::bindings::v0_2_0::events;
use crate::runtime::state::CallState;

fn properties(pairs: Vec<(String, String)>) -> Vec<events::Property> {
    pairs
        .into_iter()
        .map(|(name, value)| events::Property { name, value })
        .collect()
}

impl events::Host for CallState {
    async fn query(
        &mut self,
        filter: events::Filter,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<events::Page> {
        let actor = self.grants.events_read()?;
        let filter = EventFilter::for_plugin(
            &filter.kinds,
            filter.openid,
            filter.since,
            filter.until,
            self.platform.clock.now_ms(),
        )?;
        let page = self.platform.events.query_for_plugin(
            &actor.account,
            &filter,
            cursor.as_deref(),
            limit,
        )?;
        Ok(events::Page {
            items: page
                .events
                .into_iter()
                .map(|e| events::LoggedEvent {
                    kind: e.kind_str().to_string(),
                    sub_kind: e.sub_kind().to_string(),
                    properties: properties(e.flat_properties()),
                    id: e.id,
                    at: e.at,
                    openid: e.openid,
                    plugin: e.plugin,
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    async fn daily(
        &mut self,
        from: String,
        to: String,
        kinds: Vec<String>,
    ) -> Result<Vec<events::DayCount>> {
        let actor = self.grants.events_read()?;
        let tz = parse_timezone(&self.account().timezone)?;
        Ok(self
            .platform
            .events
            .daily_for_plugin(&actor.account, tz, &from, &to, &kinds)?
            .into_iter()
            .map(|d| events::DayCount {
                date: d.date,
                kind: d.kind,
                sub_kind: d.sub_kind,
                count: d.count,
            })
            .collect())
    }

    async fn emit(
        &mut self,
        kind: String,
        openid: Option<String>,
        properties: Vec<events::Property>,
    ) -> Result<String> {
        let actor = self.grants.events_emit()?;
        if self.emitted >= MAX_EMITS_PER_CALL {
            return Err(PlazaError::QuotaExceeded {
                message: format!("a call may emit at most {MAX_EMITS_PER_CALL} events"),
                resets_at: None,
            });
        }
        self.emitted += 1;
        let now = self.platform.clock.now_ms();
        let properties = properties.into_iter().map(|p| (p.name, p.value)).collect();
        self.platform
            .events
            .emit(
                &actor.account,
                &actor.plugin,
                now,
                &kind,
                openid.as_deref(),
                properties,
            )?
            .durable()
            .await
    }
}
