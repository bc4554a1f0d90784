//! The serving decision over the compact inventory index (plain Rust, unit-tested natively).
//!
//! The index holds every active, unexpired ad as one small [`Entry`], sorted by expected revenue
//! per impression (best first) and split into chunks of [`CHUNK`] entries, each one storage
//! value. A decision walks the chunks in order and stops at the first rank below the best
//! eligible entry, so with the top ads eligible it reads one chunk and a handful of counters,
//! however many ads the inventory holds.

use plaza_sdk::Result;
use serde::{Deserialize, Serialize};

use crate::model::{Ad, Billing, Config, charge};

/// Entries per index chunk (one storage value each; ~200 bytes an entry stays far below 1 MiB).
pub const CHUNK: usize = 500;

/// One ad as the serving decision needs it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Entry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<String>,
    pub billing: Billing,
    pub price: u64,
    /// Budget in milli-cents.
    pub budget_mc: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_mc: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The id of the materialised segment ([`segment_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<u32>,
    /// Expected milli-cents per impression, the sort key.
    pub rank: f64,
}

/// A CPC ad's click-through rate smoothed towards the configured prior, so that a new ad is
/// neither buried nor promoted by its first few clicks.
pub fn smoothed_ctr(clicks: u64, impressions: u64, config: &Config) -> f64 {
    let prior_n = config.prior_impressions as f64;
    let prior = config.prior_ctr_per_mille as f64 / 1000.0;
    (clicks as f64 + prior * prior_n) / (impressions as f64 + prior_n).max(1.0)
}

impl Entry {
    pub fn from_ad(ad: &Ad, clicks: u64, impressions: u64, config: &Config) -> Entry {
        let rank = match ad.billing {
            Billing::Cpm => ad.price_cents as f64,
            Billing::Cpc => {
                ad.price_cents as f64 * 1000.0 * smoothed_ctr(clicks, impressions, config)
            }
        };
        Entry {
            id: ad.id.clone(),
            slots: ad.slots.clone(),
            billing: ad.billing,
            price: ad.price_cents,
            budget_mc: ad.budget_cents as i64 * 1000,
            daily_mc: ad.daily_budget_cents.map(|d| d as i64 * 1000),
            starts: ad.starts,
            ends: ad.ends,
            tags: ad.targeting.tags_any.clone(),
            segment: ad.targeting.segment.as_deref().map(segment_id),
            cap: ad.frequency_cap,
            rank,
        }
    }

    /// Whether the ad may still run at or after `now` (index membership).
    pub fn live(&self, now: u64) -> bool {
        self.ends.is_none_or(|e| now < e)
    }
}

/// Sorts entries best first; equal ranks by id, so the index is the same however it was built.
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| b.rank.total_cmp(&a.rank).then_with(|| a.id.cmp(&b.id)));
}

/// A stable short id for a segment expression (its members are stored under it).
pub fn segment_id(expression: &str) -> String {
    format!("{:016x}", fnv(expression.as_bytes()))
}

/// FNV-1a, for ids and the deterministic rotation among equally ranked ads.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Who is looking, and when.
pub struct Viewer<'a> {
    pub openid: Option<&'a str>,
    pub tags: &'a [String],
    pub now: u64,
    pub day: &'a str,
}

/// The per-ad state a decision reads from storage (one key each, only for candidates).
pub trait Counters {
    /// Whether the viewer is a member of the materialised segment.
    fn in_segment(&mut self, segment: &str, openid: &str) -> Result<bool>;
    /// Milli-cents spent so far, in total and on `day`.
    fn spent(&mut self, ad: &str) -> Result<i64>;
    fn spent_on(&mut self, ad: &str, day: &str) -> Result<i64>;
    /// Impressions of `ad` the viewer saw on `day`.
    fn seen_on(&mut self, ad: &str, openid: &str, day: &str) -> Result<u32>;
}

/// Why an entry is not eligible (for tests and debugging).
#[derive(Debug, PartialEq, Eq)]
pub enum Skip {
    Slot,
    Dates,
    Tags,
    Segment,
    Budget,
    DailyBudget,
    FrequencyCap,
}

/// Whether `entry` may be shown to `viewer` in `slot` now.
pub fn eligible(
    entry: &Entry,
    slot: &str,
    viewer: &Viewer,
    counters: &mut impl Counters,
) -> Result<Option<Skip>> {
    if !entry.slots.is_empty() && !entry.slots.iter().any(|s| s == slot) {
        return Ok(Some(Skip::Slot));
    }
    if entry.starts.is_some_and(|s| viewer.now < s) || entry.ends.is_some_and(|e| viewer.now >= e) {
        return Ok(Some(Skip::Dates));
    }
    if !entry.tags.is_empty() && !entry.tags.iter().any(|t| viewer.tags.contains(t)) {
        return Ok(Some(Skip::Tags));
    }
    if let Some(segment) = &entry.segment {
        match viewer.openid {
            Some(openid) if counters.in_segment(segment, openid)? => {}
            _ => return Ok(Some(Skip::Segment)),
        }
    }
    let next = charge(entry.billing, entry.price);
    if counters.spent(&entry.id)? + next > entry.budget_mc {
        return Ok(Some(Skip::Budget));
    }
    if let Some(daily) = entry.daily_mc
        && counters.spent_on(&entry.id, viewer.day)? + next > daily
    {
        return Ok(Some(Skip::DailyBudget));
    }
    if let (Some(cap), Some(openid)) = (entry.cap, viewer.openid)
        && counters.seen_on(&entry.id, openid, viewer.day)? >= cap
    {
        return Ok(Some(Skip::FrequencyCap));
    }
    Ok(None)
}

/// The search over one chunk after another: call [`Search::scan`] per chunk until it says done.
pub struct Search {
    best_rank: Option<f64>,
    tied: Vec<Entry>,
}

impl Default for Search {
    fn default() -> Self {
        Self::new()
    }
}

impl Search {
    pub fn new() -> Self {
        Search {
            best_rank: None,
            tied: Vec::new(),
        }
    }

    /// Looks through `chunk` (sorted best first); `true` when no later chunk can do better.
    pub fn scan(
        &mut self,
        chunk: &[Entry],
        slot: &str,
        viewer: &Viewer,
        counters: &mut impl Counters,
    ) -> Result<bool> {
        for entry in chunk {
            if self.best_rank.is_some_and(|best| entry.rank < best) {
                return Ok(true);
            }
            if eligible(entry, slot, viewer, counters)?.is_none() {
                self.best_rank = Some(entry.rank);
                self.tied.push(entry.clone());
            }
        }
        Ok(false)
    }

    /// The winner: among equally ranked eligible ads, a rotation that is deterministic per
    /// viewer and day (different followers see different ones; one follower sees the same one
    /// until its frequency cap or budget moves them on).
    pub fn winner(self, viewer: &Viewer) -> Option<Entry> {
        let who = viewer.openid.unwrap_or("");
        self.tied.into_iter().min_by_key(|e| {
            (
                fnv(format!("{}|{who}|{}", e.id, viewer.day).as_bytes()),
                e.id.clone(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Fake {
        spent: HashMap<String, i64>,
        seen: HashMap<String, u32>,
        members: Vec<(String, String)>,
        reads: usize,
    }

    impl Counters for Fake {
        fn in_segment(&mut self, segment: &str, openid: &str) -> Result<bool> {
            self.reads += 1;
            Ok(self
                .members
                .contains(&(segment.to_string(), openid.to_string())))
        }
        fn spent(&mut self, ad: &str) -> Result<i64> {
            self.reads += 1;
            Ok(*self.spent.get(ad).unwrap_or(&0))
        }
        fn spent_on(&mut self, ad: &str, _day: &str) -> Result<i64> {
            self.spent(ad)
        }
        fn seen_on(&mut self, ad: &str, _openid: &str, _day: &str) -> Result<u32> {
            self.reads += 1;
            Ok(*self.seen.get(ad).unwrap_or(&0))
        }
    }

    fn entry(id: &str, billing: Billing, price: u64) -> Entry {
        let ad: Ad = serde_json::from_value(serde_json::json!({
            "id": id, "billing": billing, "price_cents": price, "budget_cents": 1000,
            "creative": {"title": "T", "landing_url": "https://example.com/"}
        }))
        .unwrap();
        Entry::from_ad(&ad, 0, 0, &Config::default())
    }

    fn decide(entries: &[Entry], viewer: &Viewer, fake: &mut Fake) -> Option<String> {
        let mut search = Search::new();
        for chunk in entries.chunks(2) {
            if search.scan(chunk, "s1", viewer, fake).unwrap() {
                break;
            }
        }
        search.winner(viewer).map(|e| e.id)
    }

    fn viewer<'a>(tags: &'a [String]) -> Viewer<'a> {
        Viewer {
            openid: Some("o1"),
            tags,
            now: 1000,
            day: "2026-01-01",
        }
    }

    #[test]
    fn highest_expected_revenue_wins_and_cpc_uses_smoothed_ctr() {
        // CPM 500 = 500 mc/impression; CPC 20 cents at the 1% prior = 200 mc/impression.
        let mut entries = vec![
            entry("cpc", Billing::Cpc, 20),
            entry("cpm", Billing::Cpm, 500),
        ];
        sort(&mut entries);
        let tags = [];
        assert_eq!(
            decide(&entries, &viewer(&tags), &mut Fake::default()).as_deref(),
            Some("cpm")
        );
        // With a 10% CTR over 1000 impressions the CPC ad is worth more.
        let ad: Ad = serde_json::from_value(serde_json::json!({
            "id": "cpc", "billing": "cpc", "price_cents": 20, "budget_cents": 1000,
            "creative": {"title": "T", "landing_url": "https://example.com/"}
        }))
        .unwrap();
        entries[1] = Entry::from_ad(&ad, 100, 1000, &Config::default());
        sort(&mut entries);
        assert_eq!(
            decide(&entries, &viewer(&tags), &mut Fake::default()).as_deref(),
            Some("cpc")
        );
    }

    #[test]
    fn budget_cap_targeting_and_dates_exclude() {
        let mut a = entry("a", Billing::Cpm, 900);
        let b = entry("b", Billing::Cpm, 100);
        let tags: Vec<String> = vec!["vip".into()];
        let mut fake = Fake::default();
        // Budget: 1000 cents = 1,000,000 mc; 999,200 spent + 900 > budget.
        fake.spent.insert("a".into(), 999_200);
        assert_eq!(
            decide(&[a.clone(), b.clone()], &viewer(&tags), &mut fake).as_deref(),
            Some("b")
        );
        fake.spent.insert("a".into(), 999_100);
        assert_eq!(
            decide(&[a.clone(), b.clone()], &viewer(&tags), &mut fake).as_deref(),
            Some("a")
        );
        a.cap = Some(2);
        fake.seen.insert("a".into(), 2);
        assert_eq!(
            decide(&[a.clone(), b.clone()], &viewer(&tags), &mut fake).as_deref(),
            Some("b")
        );
        fake.seen.clear();
        a.tags = vec!["gold".into()];
        assert_eq!(
            decide(&[a.clone(), b.clone()], &viewer(&tags), &mut fake).as_deref(),
            Some("b")
        );
        a.tags = vec!["vip".into()];
        a.segment = Some("seg".into());
        assert_eq!(
            decide(&[a.clone(), b.clone()], &viewer(&tags), &mut fake).as_deref(),
            Some("b")
        );
        fake.members.push(("seg".into(), "o1".into()));
        assert_eq!(
            decide(&[a.clone(), b.clone()], &viewer(&tags), &mut fake).as_deref(),
            Some("a")
        );
        a.ends = Some(1000);
        assert_eq!(
            decide(&[a.clone(), b.clone()], &viewer(&tags), &mut fake).as_deref(),
            Some("b")
        );
        a.ends = None;
        a.slots = vec!["other".into()];
        assert_eq!(
            decide(&[a, b], &viewer(&tags), &mut fake).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn the_search_stops_after_the_best_rank() {
        let mut entries: Vec<Entry> = (0..1000)
            .map(|i| entry(&format!("ad{i:04}"), Billing::Cpm, 1 + i as u64))
            .collect();
        sort(&mut entries);
        let mut fake = Fake::default();
        let tags = [];
        assert_eq!(
            decide(&entries, &viewer(&tags), &mut fake).as_deref(),
            Some("ad0999")
        );
        assert!(fake.reads <= 2, "{} reads", fake.reads);
    }

    #[test]
    fn ties_rotate_by_viewer_deterministically() {
        let entries: Vec<Entry> = (0..8)
            .map(|i| entry(&format!("t{i}"), Billing::Cpm, 100))
            .collect();
        let tags = [];
        let mut winners = std::collections::BTreeSet::new();
        for who in ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"] {
            let v = Viewer {
                openid: Some(who),
                ..viewer(&tags)
            };
            let first = decide(&entries, &v, &mut Fake::default());
            assert_eq!(first, decide(&entries, &v, &mut Fake::default()));
            winners.insert(first.unwrap());
        }
        assert!(winners.len() > 1, "{winners:?}");
    }
}
