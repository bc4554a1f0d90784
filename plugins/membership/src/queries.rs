//! Questions other plugins ask through `plugins.query` (`on-query`), JSON in and out:
//!
//! * `member.level` `{"openid"}` → `{"member","level","level_name","rank","points","growth",…}`
//!   plus the level's benefits (`discount_percent`, `priority_service`, `exclusive_content`,
//!   `consultation`) and its `tag`;
//! * `member.discount` `{"openid"}` → `{"level","discount_percent"}` (0 for non-members);
//! * `member.award_points` `{"openid","points","reason","key"}` → `{"awarded","balance"}`,
//!   idempotent by `key` per caller, only for the callers in `award_callers`.
//!
//! Unknown names answer `not-found`.

use plaza_sdk::config;
use plaza_sdk::plugins::answer_json;
use plaza_sdk::prelude::*;
use serde::Deserialize;
use serde_json::json;

use crate::members::{self, now_ms};
use crate::rules::{self, Config};
use crate::store::{self, LedgerEntry};

#[derive(Deserialize)]
struct Who {
    openid: String,
}

#[derive(Deserialize)]
struct Award {
    openid: String,
    points: i64,
    #[serde(default)]
    reason: String,
    key: String,
}

fn parse<T: for<'de> Deserialize<'de>>(name: &str, payload: &[u8]) -> Result<T> {
    serde_json::from_slice(payload).map_err(|e| {
        Error::invalid(format!(
            "{name}: the question is not the expected JSON: {e}"
        ))
    })
}

fn openid_ok(openid: &str) -> Result<()> {
    if openid.is_empty() || openid.len() > 128 {
        return Err(Error::invalid("openid must be 1 to 128 characters"));
    }
    Ok(())
}

/// Answers question `name` from `ctx.caller`.
pub fn answer(ctx: &CallContext, name: &str, payload: &[u8]) -> Result<Vec<u8>> {
    let today = rules::day_in(now_ms(), &ctx.account.timezone);
    match name {
        "member.level" => {
            let who: Who = parse(name, payload)?;
            openid_ok(&who.openid)?;
            let config: Config = config::parse()?;
            answer_json(&members::status(&who.openid, &config, today)?)
        }
        "member.discount" => {
            let who: Who = parse(name, payload)?;
            openid_ok(&who.openid)?;
            let config: Config = config::parse()?;
            let s = members::status(&who.openid, &config, today)?;
            answer_json(&json!({ "level": s.level, "discount_percent": s.discount_percent }))
        }
        "member.award_points" => {
            let config: Config = config::parse()?;
            let caller = ctx.caller.clone().unwrap_or_default();
            if !config.award_callers.iter().any(|c| c == &caller) {
                return Err(Error::permission_denied(format!(
                    "plugin {caller:?} may not award points (award_callers of membership)"
                )));
            }
            let award: Award = parse(name, payload)?;
            openid_ok(&award.openid)?;
            if award.points <= 0 || award.points > 1_000_000 {
                return Err(Error::invalid(
                    "points must be a positive integer up to 1000000",
                ));
            }
            if award.key.is_empty() || award.key.len() > 200 {
                return Err(Error::invalid("key must be 1 to 200 characters"));
            }
            if award.reason.chars().count() > 200 {
                return Err(Error::invalid("reason must be at most 200 characters"));
            }
            let once = format!("award:{caller}:{}", award.key);
            let entry = LedgerEntry {
                at: now_ms(),
                delta: award.points,
                growth: award.points,
                kind: "award".into(),
                reason: award.reason.clone(),
                by: Some(caller.clone()),
            };
            let awarded = members::earn(
                &award.openid,
                award.points,
                &config,
                today,
                entry,
                Some((&once, award.openid.as_bytes())),
            )?;
            let balance = store::counter(&store::points_key(&award.openid))?;
            answer_json(&json!({ "awarded": awarded, "balance": balance }))
        }
        other => Err(Error::not_found(format!(
            "membership answers member.level, member.discount and member.award_points, not {other:?}"
        ))),
    }
}
