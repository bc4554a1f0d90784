//! 广告位 Ad slots — 流量主 in-article ads with fraud checks and CPC/CPM billing, 互选 brand
//! campaigns.
//!
//! * `model` — slots, ads, campaigns, configuration and their validation;
//! * `select` — the compact inventory index and the serving decision over it;
//! * `tracking` — signed decision tokens and the click fraud rules;
//! * `report` — the daily revenue report and its SVG chart;
//! * `store` / `serving` — the same through the host (storage, followers, events);
//! * `routes` — the HTTP API (operator, brand, follower/public) and the queries.
//!
//! Every call is a fresh instance, so a decision reads only what it needs: one or a few index
//! chunks, and a counter or two per candidate. See README.md for the routes and storage.
#![forbid(unsafe_code)]

pub mod model;
pub mod report;
pub mod select;
pub mod tracking;

mod routes;
mod serving;
mod store;

use plaza_sdk::prelude::*;

#[derive(Default)]
struct AdSlots;

impl Plugin for AdSlots {
    fn on_install(&self, _ctx: &CallContext) -> Result<()> {
        routes::install()
    }

    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        routes::http(ctx, req)
    }

    fn on_query(&self, ctx: &CallContext, name: &str, payload: Vec<u8>) -> Result<Vec<u8>> {
        routes::query(ctx, name, &payload)
    }

    fn on_event(&self, ctx: &CallContext, ev: Event) -> Result<Option<Content>> {
        if let Event::Timer(t) = ev {
            routes::timer(ctx, &t.payload)?;
        }
        Ok(None)
    }
}

plaza_sdk::register!(AdSlots);

#[cfg(test)]
mod manifest_tests {
    use crate::model::Config;

    #[test]
    fn the_manifest_default_config_parses_and_matches_the_model_defaults() {
        let manifest: toml::Value =
            toml::from_str(include_str!("../plugin.toml")).expect("plugin.toml");
        let default = &manifest["config"]["default"];
        let json = serde_json::to_value(default).expect("json");
        let parsed: Config = serde_json::from_value(json.clone()).expect("default config parses");
        let model = serde_json::to_value(Config::default()).expect("json");
        assert_eq!(serde_json::to_value(parsed).unwrap(), model);
        let props = manifest["config"]["schema"]["properties"]
            .as_table()
            .expect("schema properties");
        for key in model.as_object().unwrap().keys() {
            assert!(props.contains_key(key), "schema lacks {key}");
            assert!(
                props[key].get("description").is_some(),
                "{key} has no description"
            );
        }
    }
}
