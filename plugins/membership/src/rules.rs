//! The membership rules as plain functions over the configuration: levels from growth, check-in
//! points with the streak bonus, purchase points, the month lots points are kept in and when
//! they expire, which lots a spend takes, birthdays and renewal reminders. No host calls here,
//! so all of it is unit-tested natively.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The installation's configuration (see `plugin.toml` for the schema and the defaults).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Levels by growth; sorted by `min_growth` when used, the lowest is everybody's first.
    pub levels: Vec<Level>,
    pub checkin: Checkin,
    /// Points per yuan (100 cents) of a paid shop order, rounded down.
    pub purchase_points_per_yuan: f64,
    /// Points expire at the start of the month `points_expire_months + 1` months after the month
    /// they were earned in (0 = never).
    pub points_expire_months: u32,
    /// How long a membership runs from joining (or from a renewal), in months.
    pub membership_term_months: u32,
    /// Plugins that may ask `member.award_points`.
    pub award_callers: Vec<String>,
    /// How long the member-card links sent in replies stay valid, in hours.
    pub card_link_hours: u32,
    pub birthday_reminder: Option<Reminder>,
    pub renewal_reminder: Option<Reminder>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            levels: vec![
                Level::new("member", "普通会员 Member", "会员·普通", 0, 0),
                Level::new("silver", "银卡 Silver", "会员·银卡", 500, 5),
                Level {
                    priority_service: true,
                    exclusive_content: true,
                    ..Level::new("gold", "金卡 Gold", "会员·金卡", 2000, 10)
                },
                Level {
                    priority_service: true,
                    exclusive_content: true,
                    consultation: true,
                    ..Level::new("diamond", "钻石 Diamond", "会员·钻石", 5000, 15)
                },
            ],
            checkin: Checkin::default(),
            purchase_points_per_yuan: 1.0,
            points_expire_months: 12,
            membership_term_months: 12,
            award_callers: vec!["interactive".into(), "shop".into()],
            card_link_hours: 168,
            birthday_reminder: None,
            renewal_reminder: None,
        }
    }
}

/// One membership level and its benefits.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub id: String,
    pub name: String,
    /// The follower tag members of this level carry (created when missing).
    pub tag: String,
    pub min_growth: i64,
    /// Percent off that other plugins (the shop) apply: `member.discount`.
    #[serde(default)]
    pub discount_percent: u8,
    /// Served first by customer service: answered in `member.level` and visible as the tag.
    #[serde(default)]
    pub priority_service: bool,
    /// May see exclusive content (other plugins ask `member.level`).
    #[serde(default)]
    pub exclusive_content: bool,
    /// May book 1-on-1 consultations on the member card.
    #[serde(default)]
    pub consultation: bool,
}

impl Level {
    fn new(id: &str, name: &str, tag: &str, min_growth: i64, discount_percent: u8) -> Self {
        Level {
            id: id.into(),
            name: name.into(),
            tag: tag.into(),
            min_growth,
            discount_percent,
            priority_service: false,
            exclusive_content: false,
            consultation: false,
        }
    }
}

/// Daily check-in points: `points`, plus `streak_bonus` for each consecutive day before today,
/// at most `streak_bonus_max` extra.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Checkin {
    pub points: i64,
    pub streak_bonus: i64,
    pub streak_bonus_max: i64,
}

impl Default for Checkin {
    fn default() -> Self {
        Checkin {
            points: 5,
            streak_bonus: 1,
            streak_bonus_max: 10,
        }
    }
}

/// A template message sent by the daily job. Field values may use `{nickname}`, `{level}`,
/// `{points}`, `{expires_on}` and `{days}` (days left until `expires_on`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reminder {
    pub template_id: String,
    /// Days before the membership ends (renewal only).
    #[serde(default = "default_days_before")]
    pub days_before: u32,
    pub fields: BTreeMap<String, String>,
}

fn default_days_before() -> u32 {
    7
}

impl Config {
    /// Levels sorted by `min_growth` (the rank is the index).
    pub fn sorted_levels(&self) -> Vec<Level> {
        let mut levels = self.levels.clone();
        levels.sort_by_key(|l| l.min_growth);
        levels
    }

    /// The level `growth` reaches and its 0-based rank; `None` only when no level is configured.
    pub fn level_for(&self, growth: i64) -> Option<(usize, Level)> {
        let levels = self.sorted_levels();
        let rank = levels
            .iter()
            .rposition(|l| l.min_growth <= growth)
            .unwrap_or(0);
        levels.get(rank).cloned().map(|l| (rank, l))
    }

    /// The next level above `growth`'s and the growth still missing to reach it.
    pub fn next_level(&self, growth: i64) -> Option<(Level, i64)> {
        self.sorted_levels()
            .into_iter()
            .find(|l| l.min_growth > growth)
            .map(|l| {
                let missing = l.min_growth - growth;
                (l, missing)
            })
    }

    /// Points for a check-in that is day `streak` (1 = no check-in yesterday) of a streak.
    pub fn checkin_points(&self, streak: i64) -> i64 {
        let c = &self.checkin;
        let bonus = (streak.max(1) - 1)
            .saturating_mul(c.streak_bonus)
            .clamp(0, c.streak_bonus_max.max(0));
        c.points.max(0).saturating_add(bonus)
    }

    /// Points for an order of `amount_cents`, rounded down.
    pub fn purchase_points(&self, amount_cents: i64) -> i64 {
        if amount_cents <= 0 || !self.purchase_points_per_yuan.is_finite() {
            return 0;
        }
        let points = (amount_cents as f64) * self.purchase_points_per_yuan / 100.0;
        if points >= i64::MAX as f64 {
            i64::MAX
        } else {
            points.floor().max(0.0) as i64
        }
    }

    /// The first day on which points of the lot `month` (`YYYY-MM`) are expired; `None` when
    /// points never expire or the month does not parse.
    pub fn lot_expires_on(&self, month: &str) -> Option<NaiveDate> {
        if self.points_expire_months == 0 {
            return None;
        }
        month_start(month)?.checked_add_months(Months::new(self.points_expire_months + 1))
    }

    /// When a membership that starts (or is renewed) on `from` ends.
    pub fn term_end(&self, from: NaiveDate) -> NaiveDate {
        from.checked_add_months(Months::new(self.membership_term_months.max(1)))
            .unwrap_or(NaiveDate::MAX)
    }
}

/// `YYYY-MM` of a date: the lot that points earned that day go to.
pub fn month_of(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// The first day of a `YYYY-MM` month.
pub fn month_start(month: &str) -> Option<NaiveDate> {
    let (y, m) = month.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

/// The calendar day of `at_ms` in the IANA timezone `tz` (Asia/Shanghai if it is unknown).
pub fn day_in(at_ms: u64, tz: &str) -> NaiveDate {
    plaza_sdk::time::local_date(at_ms, plaza_sdk::time::timezone(tz))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Checks a birthday `MM-DD` (any valid day of a leap year) and returns it normalised.
pub fn parse_birthday(s: &str) -> Option<String> {
    let s = s.trim();
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    NaiveDate::from_ymd_opt(2000, m, d)?;
    Some(format!("{m:02}-{d:02}"))
}

/// Whether `date` is the birthday `MM-DD` (29 February is celebrated on 28 February in other
/// years).
pub fn is_birthday(birthday: &str, date: NaiveDate) -> bool {
    let Some(b) = parse_birthday(birthday) else {
        return false;
    };
    let today = format!("{:02}-{:02}", date.month(), date.day());
    if b == today {
        return true;
    }
    b == "02-29" && today == "02-28" && NaiveDate::from_ymd_opt(date.year(), 2, 29).is_none()
}

/// Whether the renewal reminder for a membership ending `expires_on` is due on `date`:
/// within `days_before` days before the end (a missed day is caught up the next day).
pub fn renewal_due(expires_on: NaiveDate, days_before: u32, date: NaiveDate) -> bool {
    let days_left = (expires_on - date).num_days();
    (0..=i64::from(days_before)).contains(&days_left)
}

/// Which lots a spend of `cost` takes, oldest month first: `(month, points)`; `None` when the
/// lots hold fewer than `cost` points. Lots must be in month order (as storage lists them).
pub fn plan_spend(lots: &[(String, i64)], cost: i64) -> Option<Vec<(String, i64)>> {
    let mut left = cost;
    let mut plan = Vec::new();
    for (month, points) in lots {
        if left <= 0 {
            break;
        }
        if *points <= 0 {
            continue;
        }
        let take = left.min(*points);
        plan.push((month.clone(), take));
        left -= take;
    }
    (left <= 0).then_some(plan)
}

/// Fills `{name}` placeholders of a reminder's field values.
pub fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn levels_follow_growth_thresholds() {
        let c = Config::default();
        assert_eq!(c.level_for(0).unwrap().1.id, "member");
        assert_eq!(c.level_for(499).unwrap().0, 0);
        assert_eq!(c.level_for(500).unwrap().1.id, "silver");
        assert_eq!(
            c.level_for(4999).unwrap(),
            (2, c.sorted_levels()[2].clone())
        );
        assert_eq!(c.level_for(1_000_000).unwrap().1.id, "diamond");
        let (next, missing) = c.next_level(1200).unwrap();
        assert_eq!((next.id.as_str(), missing), ("gold", 800));
        assert!(c.next_level(5000).is_none());
        // Order in the configuration does not matter.
        let mut shuffled = c.clone();
        shuffled.levels.reverse();
        assert_eq!(shuffled.level_for(2100).unwrap().1.id, "gold");
    }

    #[test]
    fn checkin_streak_bonus_is_capped() {
        let c = Config::default();
        assert_eq!(c.checkin_points(1), 5);
        assert_eq!(c.checkin_points(2), 6);
        assert_eq!(c.checkin_points(7), 11);
        assert_eq!(c.checkin_points(11), 15);
        assert_eq!(c.checkin_points(400), 15);
        assert_eq!(c.checkin_points(0), 5);
    }

    #[test]
    fn purchase_points_round_down() {
        let mut c = Config::default();
        assert_eq!(c.purchase_points(12_345), 123);
        c.purchase_points_per_yuan = 2.5;
        assert_eq!(c.purchase_points(199), 4);
        assert_eq!(c.purchase_points(-5), 0);
        c.purchase_points_per_yuan = f64::NAN;
        assert_eq!(c.purchase_points(100), 0);
    }

    #[test]
    fn lots_expire_at_the_start_of_the_month_after_n_full_months() {
        let mut c = Config::default();
        assert_eq!(c.lot_expires_on("2026-03"), Some(date("2027-04-01")));
        c.points_expire_months = 1;
        assert_eq!(c.lot_expires_on("2026-12"), Some(date("2027-02-01")));
        c.points_expire_months = 0;
        assert_eq!(c.lot_expires_on("2026-12"), None);
        assert_eq!(month_start("2026-13"), None);
        assert_eq!(month_start("26-01"), None);
        assert_eq!(month_of(date("2026-03-31")), "2026-03");
    }

    #[test]
    fn spends_take_the_oldest_lots_first() {
        let lots = vec![
            ("2026-01".to_string(), 30),
            ("2026-02".to_string(), 0),
            ("2026-03".to_string(), 50),
        ];
        assert_eq!(
            plan_spend(&lots, 60),
            Some(vec![("2026-01".into(), 30), ("2026-03".into(), 30)])
        );
        assert_eq!(plan_spend(&lots, 80).map(|p| p.len()), Some(2));
        assert_eq!(plan_spend(&lots, 81), None);
        assert_eq!(plan_spend(&lots, 10), Some(vec![("2026-01".into(), 10)]));
    }

    #[test]
    fn days_are_calendar_days_of_the_timezone() {
        // 2026-03-01T16:30Z is already 2 March in Shanghai, still 1 March in London.
        let at = 1_772_382_600_000;
        assert_eq!(day_in(at, "Asia/Shanghai"), date("2026-03-02"));
        assert_eq!(day_in(at, "Europe/London"), date("2026-03-01"));
        assert_eq!(day_in(at, "Not/AZone"), date("2026-03-02"));
    }

    #[test]
    fn birthdays_and_renewals() {
        assert_eq!(parse_birthday("3-7"), None);
        assert_eq!(parse_birthday("02-30"), None);
        assert_eq!(parse_birthday(" 02-29 ").as_deref(), Some("02-29"));
        assert!(is_birthday("03-07", date("2027-03-07")));
        assert!(!is_birthday("03-07", date("2027-03-08")));
        assert!(is_birthday("02-29", date("2027-02-28")));
        assert!(!is_birthday("02-29", date("2028-02-28")));
        assert!(is_birthday("02-29", date("2028-02-29")));
        let end = date("2027-01-10");
        assert!(!renewal_due(end, 7, date("2027-01-02")));
        assert!(renewal_due(end, 7, date("2027-01-03")));
        assert!(renewal_due(end, 7, date("2027-01-10")));
        assert!(!renewal_due(end, 7, date("2027-01-11")));
        let c = Config::default();
        assert_eq!(c.term_end(date("2026-01-31")), date("2027-01-31"));
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            fill(
                "{level}: {points} pts, {unknown}",
                &[("level", "金卡".into()), ("points", "12".into())]
            ),
            "金卡: 12 pts, {unknown}"
        );
    }

    #[test]
    fn manifest_default_config_and_schema_match_the_model() {
        let manifest: toml::Value =
            toml::from_str(include_str!("../plugin.toml")).expect("plugin.toml parses");
        let default = manifest["config"]["default"].clone();
        let json = serde_json::to_value(default).expect("to json");
        let parsed: Config = serde_json::from_value(json).expect("default config fits the model");
        assert_eq!(parsed.levels, Config::default().levels);
        assert_eq!(parsed.award_callers, vec!["interactive", "shop"]);
        let schema = &manifest["config"]["schema"]["properties"];
        for key in serde_json::to_value(Config::default())
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
        {
            assert!(schema.get(key).is_some(), "schema lacks {key}");
        }
    }
}
