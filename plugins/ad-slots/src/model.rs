//! What the operator and brands define — slots, ads, campaigns — the installation's
//! configuration, and their validation (plain Rust, unit-tested natively).

use plaza_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

/// The installation's configuration (`[config]` of plugin.toml); every field has a default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How long an impression pixel / click link stays valid after its decision.
    pub token_ttl_hours: u32,
    /// Clicks by one follower on one ad within this window beyond `repeat_click_max` are excluded.
    pub repeat_click_window_minutes: u32,
    /// Billable clicks per follower, ad and window.
    pub repeat_click_max: u32,
    /// Impressions a follower (or a slot, per day) needs before its click-through rate is judged.
    pub ctr_min_impressions: u32,
    /// A click-through rate above this (percent) marks the follower's / slot's clicks as abnormal.
    pub ctr_max_percent: u32,
    /// The click-through rate assumed for a CPC ad before it has data (per mille).
    pub prior_ctr_per_mille: u32,
    /// How many impressions the prior weighs (smoothing of the CPC ads' CTR).
    pub prior_impressions: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token_ttl_hours: 24,
            repeat_click_window_minutes: 60,
            repeat_click_max: 1,
            ctr_min_impressions: 20,
            ctr_max_percent: 50,
            prior_ctr_per_mille: 10,
            prior_impressions: 100,
        }
    }
}

/// Where a slot sits in an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    InArticle,
    EndOfArticle,
}

/// How a slot's ad is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    Card,
    Banner,
    Text,
}

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Style::Card => "card",
            Style::Banner => "banner",
            Style::Text => "text",
        }
    }
}

/// An ad slot of the account.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub position: Position,
    pub style: Style,
    /// Aspect ratio `W:H`, e.g. `16:9`, `3:1`.
    pub size: String,
}

impl Slot {
    pub fn validate(&self) -> Result<()> {
        check_id("id", &self.id)?;
        check_len("name", &self.name, 0, 60)?;
        let ok = self.size.split_once(':').is_some_and(|(w, h)| {
            matches!(w.parse::<u32>(), Ok(1..=100)) && matches!(h.parse::<u32>(), Ok(1..=100))
        });
        if !ok {
            return Err(Error::invalid(format!(
                "size must be an aspect ratio W:H such as 16:9 or 3:1, not {:?}",
                self.size
            )));
        }
        Ok(())
    }
}

/// CPC: the price is per click. CPM: the price is per 1000 impressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Billing {
    Cpc,
    Cpm,
}

/// What the follower sees and where a click leads.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Creative {
    pub title: String,
    #[serde(default)]
    pub text: String,
    /// An `http(s)` URL or a media id of this account (served by the host at `/media/…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `http(s)` only.
    pub landing_url: String,
}

impl Creative {
    pub fn validate(&self, field: &str) -> Result<()> {
        check_len(&format!("{field}.title"), &self.title, 1, 60)?;
        check_len(&format!("{field}.text"), &self.text, 0, 300)?;
        if let Some(image) = &self.image {
            let is_url = image.starts_with("https://") || image.starts_with("http://");
            let is_media = !image.is_empty()
                && image.len() <= 128
                && image
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            let good_url = is_url && image.len() <= 2000 && !image.contains(char::is_whitespace);
            if !good_url && !is_media {
                return Err(Error::invalid(format!(
                    "{field}.image must be an http(s) URL or a media id"
                )));
            }
        }
        check_http_url(&format!("{field}.landing_url"), &self.landing_url)
    }

    /// The image's `src`: the URL, or the host's media route for a media id.
    pub fn image_src(&self, account: &str) -> Option<String> {
        self.image.as_ref().map(|image| {
            if image.starts_with("http") {
                image.clone()
            } else {
                format!("/media/{account}/{image}")
            }
        })
    }
}

/// Who an ad is shown to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// The follower carries at least one of these tags (empty: no tag condition).
    #[serde(default)]
    pub tags_any: Vec<String>,
    /// A host segment expression the follower must match (members materialised, see README).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
}

/// A 流量主 ad of the inventory.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ad {
    pub id: String,
    pub creative: Creative,
    pub billing: Billing,
    /// Cents per click (CPC) or per 1000 impressions (CPM).
    pub price_cents: u64,
    pub budget_cents: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_budget_cents: Option<u64>,
    /// ms since the epoch; absent = from now on / open-ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<u64>,
    #[serde(default)]
    pub targeting: Targeting,
    /// Impressions per follower per (account-local) day; absent = no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<u32>,
    /// Slot ids the ad may run in; empty = every slot.
    #[serde(default)]
    pub slots: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// The largest money amount accepted (10 million yuan), so that milli-cent sums stay in `i64`.
pub const MAX_CENTS: u64 = 1_000_000_000;

impl Ad {
    pub fn validate(&self) -> Result<()> {
        check_id("id", &self.id)?;
        self.creative.validate("creative")?;
        check_cents("price_cents", self.price_cents)?;
        check_cents("budget_cents", self.budget_cents)?;
        if let Some(daily) = self.daily_budget_cents {
            check_cents("daily_budget_cents", daily)?;
        }
        check_dates(self.starts, self.ends)?;
        if self.targeting.tags_any.len() > 20 {
            return Err(Error::invalid("targeting.tags_any: at most 20 tags"));
        }
        for tag in &self.targeting.tags_any {
            check_len("targeting.tags_any[]", tag, 1, 64)?;
        }
        if let Some(segment) = &self.targeting.segment {
            check_len("targeting.segment", segment, 1, 1000)?;
        }
        if self.frequency_cap == Some(0) {
            return Err(Error::invalid(
                "frequency_cap must be at least 1 (omit it for no cap)",
            ));
        }
        if self.slots.len() > 50 {
            return Err(Error::invalid("slots: at most 50 slot ids"));
        }
        for slot in &self.slots {
            check_id("slots[]", slot)?;
        }
        Ok(())
    }

    /// What one billable event costs, in milli-cents: an impression for CPM (price / 1000
    /// cents), a click for CPC.
    pub fn charge_millicents(&self) -> i64 {
        charge(self.billing, self.price_cents)
    }
}

pub fn charge(billing: Billing, price_cents: u64) -> i64 {
    match billing {
        Billing::Cpm => price_cents as i64,
        Billing::Cpc => price_cents as i64 * 1000,
    }
}

/// A brand allowed to post 互选 campaigns; only the hash of its key is kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Brand {
    pub id: String,
    pub name: String,
    pub key_sha256: String,
    pub key_hint: String,
    pub created_at: u64,
}

/// A campaign as a brand posts it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRequest {
    pub name: String,
    pub budget_cents: u64,
    pub price_cents: u64,
    #[serde(default)]
    pub requirements: Requirements,
    pub starts: u64,
    pub ends: u64,
    pub slot: String,
    pub creative: Creative,
}

/// What the brand asks of the placement.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// Free text (audience, tone, …) for the operator to judge.
    #[serde(default)]
    pub note: String,
    /// Billable impressions promised; settlement is prorated below it (0: no minimum).
    #[serde(default)]
    pub min_impressions: u64,
}

impl CampaignRequest {
    pub fn validate(&self) -> Result<()> {
        check_len("name", &self.name, 1, 80)?;
        check_cents("budget_cents", self.budget_cents)?;
        check_cents("price_cents", self.price_cents)?;
        check_len("requirements.note", &self.requirements.note, 0, 2000)?;
        check_dates(Some(self.starts), Some(self.ends))?;
        check_id("slot", &self.slot)?;
        self.creative.validate("creative")
    }
}

/// The stored part of a campaign's life; `running` and `ended` are derived from the dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    Submitted,
    Accepted,
    Declined,
    Settled,
}

/// A 互选 campaign.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Campaign {
    pub id: String,
    pub brand: String,
    #[serde(flatten)]
    pub request: CampaignRequest,
    pub state: CampaignState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<Settlement>,
    pub created_at: u64,
}

/// What the brand owes at the end of its campaign.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Settlement {
    pub amount_cents: u64,
    pub billable_impressions: u64,
    pub billable_clicks: u64,
    pub settled_at: u64,
}

impl Campaign {
    /// `submitted`, `declined`, `accepted` (before its dates), `running`, `ended` (accepted, past
    /// its end, not yet settled) or `settled`.
    pub fn status(&self, now: u64) -> &'static str {
        match self.state {
            CampaignState::Submitted => "submitted",
            CampaignState::Declined => "declined",
            CampaignState::Settled => "settled",
            CampaignState::Accepted if now >= self.request.ends => "ended",
            CampaignState::Accepted if now >= self.request.starts => "running",
            CampaignState::Accepted => "accepted",
        }
    }

    /// Settlement: the agreed price, capped by the budget, prorated by delivery when the brand
    /// asked for a minimum of billable impressions that was not reached.
    pub fn settle(&self, billable_impressions: u64, billable_clicks: u64, now: u64) -> Settlement {
        let full = self.request.price_cents.min(self.request.budget_cents);
        let min = self.request.requirements.min_impressions;
        let amount = if min == 0 || billable_impressions >= min {
            full
        } else {
            ((full as u128 * billable_impressions as u128) / min as u128) as u64
        };
        Settlement {
            amount_cents: amount,
            billable_impressions,
            billable_clicks,
            settled_at: now,
        }
    }
}

/// Ids: 1–64 of `A-Z a-z 0-9 _ -`.
pub fn check_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::invalid(format!(
            "{field} must be 1 to 64 of A-Z a-z 0-9 _ -, not {id:?}"
        )));
    }
    Ok(())
}

fn check_len(field: &str, text: &str, min: usize, max: usize) -> Result<()> {
    let n = text.chars().count();
    if n < min || n > max || (min > 0 && text.trim().is_empty()) {
        return Err(Error::invalid(if min > 0 && text.trim().is_empty() {
            format!("{field} must not be empty")
        } else {
            format!("{field} must be {min} to {max} characters, not {n}")
        }));
    }
    Ok(())
}

fn check_cents(field: &str, cents: u64) -> Result<()> {
    if cents == 0 || cents > MAX_CENTS {
        return Err(Error::invalid(format!(
            "{field} must be 1 to {MAX_CENTS} cents, not {cents}"
        )));
    }
    Ok(())
}

fn check_dates(starts: Option<u64>, ends: Option<u64>) -> Result<()> {
    if let (Some(s), Some(e)) = (starts, ends)
        && e <= s
    {
        return Err(Error::invalid(format!(
            "ends ({e}) must be after starts ({s}) (milliseconds since the epoch)"
        )));
    }
    Ok(())
}

/// `http://` or `https://` with a host, no whitespace or quotes.
pub fn check_http_url(field: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty()
            && url.len() <= 2000
            && !url
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>')
    });
    if !ok {
        return Err(Error::invalid(format!(
            "{field} must be an http(s) URL, not {url:?}"
        )));
    }
    Ok(())
}

pub use plaza_sdk::time::{local_day, timezone};

/// Every day from `from` to `to` inclusive (`YYYY-MM-DD`), at most `max` days.
pub fn days_between(from: &str, to: &str, max: usize) -> Result<Vec<String>> {
    let parse = |field: &str, s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| Error::invalid(format!("{field} must be a date YYYY-MM-DD, not {s:?}")))
    };
    let (mut day, end) = (parse("from", from)?, parse("to", to)?);
    if end < day {
        return Err(Error::invalid("to must not be before from"));
    }
    let mut out = Vec::new();
    while day <= end {
        if out.len() == max {
            return Err(Error::invalid(format!("at most {max} days per report")));
        }
        out.push(day.format("%Y-%m-%d").to_string());
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad() -> Ad {
        serde_json::from_value(serde_json::json!({
            "id": "a1", "billing": "cpc", "price_cents": 50, "budget_cents": 1000,
            "creative": {"title": "T", "landing_url": "https://example.com/x"}
        }))
        .unwrap()
    }

    #[test]
    fn ads_validate_per_field() {
        assert!(ad().validate().is_ok());
        let mut bad = ad();
        bad.creative.landing_url = "javascript:alert(1)".into();
        assert!(
            bad.validate()
                .unwrap_err()
                .message()
                .contains("landing_url")
        );
        let mut bad = ad();
        bad.price_cents = 0;
        assert!(
            bad.validate()
                .unwrap_err()
                .message()
                .contains("price_cents")
        );
        let mut bad = ad();
        bad.id = "a b".into();
        assert!(bad.validate().unwrap_err().message().contains("id"));
        let mut bad = ad();
        (bad.starts, bad.ends) = (Some(10), Some(5));
        assert!(bad.validate().unwrap_err().message().contains("ends"));
        let mut bad = ad();
        bad.frequency_cap = Some(0);
        assert!(
            bad.validate()
                .unwrap_err()
                .message()
                .contains("frequency_cap")
        );
    }

    #[test]
    fn charges_are_milli_cents() {
        let mut a = ad();
        assert_eq!(a.charge_millicents(), 50_000);
        a.billing = Billing::Cpm;
        assert_eq!(a.charge_millicents(), 50);
    }

    #[test]
    fn slot_sizes_are_ratios() {
        let slot = |size: &str| Slot {
            id: "s".into(),
            name: String::new(),
            position: Position::InArticle,
            style: Style::Card,
            size: size.into(),
        };
        assert!(slot("16:9").validate().is_ok());
        assert!(slot("3:1").validate().is_ok());
        assert!(slot("wide").validate().is_err());
        assert!(slot("0:1").validate().is_err());
    }

    #[test]
    fn settlement_is_price_capped_by_budget_and_prorated() {
        let request: CampaignRequest = serde_json::from_value(serde_json::json!({
            "name": "N", "budget_cents": 8000, "price_cents": 10000, "starts": 1, "ends": 2,
            "slot": "s", "requirements": {"min_impressions": 4},
            "creative": {"title": "T", "landing_url": "https://b.example/"}
        }))
        .unwrap();
        let c = Campaign {
            id: "c".into(),
            brand: "b".into(),
            request,
            state: CampaignState::Accepted,
            decline_reason: None,
            settlement: None,
            created_at: 0,
        };
        assert_eq!(c.settle(4, 0, 9).amount_cents, 8000);
        assert_eq!(c.settle(1, 0, 9).amount_cents, 2000);
        assert_eq!(c.status(0), "accepted");
        assert_eq!(c.status(1), "running");
        assert_eq!(c.status(2), "ended");
    }

    #[test]
    fn day_ranges() {
        assert_eq!(
            days_between("2026-02-27", "2026-03-01", 10).unwrap(),
            ["2026-02-27", "2026-02-28", "2026-03-01"]
        );
        assert!(days_between("2026-03-01", "2026-02-27", 10).is_err());
        assert!(days_between("2026-01-01", "2026-12-31", 92).is_err());
        assert_eq!(
            local_day(1_736_474_400_000, timezone("Asia/Shanghai")),
            "2025-01-10"
        );
    }
}
