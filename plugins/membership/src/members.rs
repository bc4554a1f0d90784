//! What happens to a member: joining, checking in, earning, level changes and their tags, the
//! status other plugins and the card see, and the daily job (expiry and reminders).

use chrono::{Datelike, Duration, NaiveDate};
use plaza_sdk::messaging::{self, TemplateField};
use plaza_sdk::storage::{self, BatchOutcome, Check, Write};
use plaza_sdk::{Error, Result, events, followers, links, log, tags};
use serde::Serialize;

use crate::rules::{self, Config, Level};
use crate::store::{self, LedgerEntry, Member};

/// Milliseconds since the epoch, from the WASI wall clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A member's state as other plugins (`member.level`) and the card see it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub member: bool,
    pub level: String,
    pub level_name: String,
    pub rank: usize,
    pub points: i64,
    pub growth: i64,
    pub discount_percent: u8,
    pub priority_service: bool,
    pub exclusive_content: bool,
    pub consultation: bool,
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_to_next: Option<i64>,
}

/// The member's status on `today`. A follower who never joined, or whose membership ended, is
/// `member: false` with no benefits (rank 0, no discount).
pub fn status(openid: &str, config: &Config, today: NaiveDate) -> Result<Status> {
    let record = store::member(openid)?;
    let member = record.as_ref().is_some_and(|m| m.active_on(today));
    let points = store::counter(&store::points_key(openid))?;
    let growth = store::counter(&store::growth_key(openid))?;
    // Non-members are at the lowest level, whatever growth they once had.
    let (rank, level) = config
        .level_for(if member { growth } else { i64::MIN })
        .ok_or_else(|| Error::invalid("no membership level is configured"))?;
    let next = config.next_level(growth);
    let benefit = |b: bool| member && b;
    Ok(Status {
        member,
        level: level.id.clone(),
        level_name: level.name.clone(),
        rank,
        points,
        growth,
        discount_percent: if member { level.discount_percent } else { 0 },
        priority_service: benefit(level.priority_service),
        exclusive_content: benefit(level.exclusive_content),
        consultation: benefit(level.consultation),
        tag: level.tag.clone(),
        expires_on: record.map(|m| m.expires_on),
        next_level: next.as_ref().map(|(l, _)| l.name.clone()),
        growth_to_next: next.map(|(_, missing)| missing),
    })
}

/// Puts the tag of the level the member's growth reaches on them (removing the previous level's
/// tag) when it changed. Tagging problems are logged, not fatal: points were already granted.
pub fn sync_level(openid: &str, config: &Config) -> Result<()> {
    let growth = store::counter(&store::growth_key(openid))?;
    let Some((_, level)) = config.level_for(growth) else {
        return Ok(());
    };
    let Some(member) = store::member(openid)? else {
        return Ok(());
    };
    if member.level.as_deref() == Some(level.id.as_str()) {
        return Ok(());
    }
    let previous: Option<Level> = member
        .level
        .as_ref()
        .and_then(|id| config.levels.iter().find(|l| &l.id == id).cloned());
    let ids = [openid.to_string()];
    let tagged = tags::ensure(&level.tag).and_then(|()| followers::tag(&ids, &level.tag));
    if let Err(e) = tagged {
        log::warn(format!(
            "cannot tag {openid:?} with {:?}: {}",
            level.tag,
            e.display()
        ));
        return Ok(());
    }
    if let Some(prev) = previous.filter(|p| p.tag != level.tag)
        && let Err(e) = followers::untag(&ids, &prev.tag)
    {
        log::warn(format!(
            "cannot untag {openid:?} from {:?}: {}",
            prev.tag,
            e.display()
        ));
    }
    store::update_member(openid, |m| m.level = Some(level.id.clone()))?;
    Ok(())
}

/// Tells analytics that a member's points changed (best effort: a missing grant is logged).
pub fn emit_points_changed(openid: &str, delta: i64, kind: &str) {
    let delta = delta.to_string();
    let props = [("delta", delta.as_str()), ("reason", kind)];
    if let Err(e) = events::emit("membership.points.changed", Some(openid), &props) {
        log::debug(format!(
            "membership.points.changed not emitted: {}",
            e.display()
        ));
    }
}

/// Adds points earned (check-in, purchase, award) with as much growth, once per `once` key;
/// joins the follower first. Returns whether they were added.
pub fn earn(
    openid: &str,
    points: i64,
    config: &Config,
    today: NaiveDate,
    entry: LedgerEntry,
    once: Option<(&str, &[u8])>,
) -> Result<bool> {
    store::ensure_member(openid, today, config)?;
    let added = store::earn(openid, points, points, today, &entry, once)?;
    if added {
        emit_points_changed(openid, points, &entry.kind);
        sync_level(openid, config)?;
    }
    Ok(added)
}

/// The result of a check-in.
#[derive(Debug, Clone, Serialize)]
pub struct CheckedIn {
    /// False when the follower had already checked in that day (nothing added).
    pub checked_in: bool,
    pub date: String,
    pub streak: i64,
    pub points: i64,
    pub balance: i64,
}

fn checkin_key(openid: &str, date: NaiveDate) -> String {
    format!("checkin:{openid}:{date}")
}

/// Checks the follower in for `date` (once per day: the day's key is written with `absent` in
/// the batch that adds the points). The streak continues from yesterday's check-in.
pub fn checkin(openid: &str, config: &Config, date: NaiveDate, at: u64) -> Result<CheckedIn> {
    let yesterday = date - Duration::days(1);
    let previous = storage::get_string(&checkin_key(openid, yesterday))?
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let streak = previous + 1;
    let points = config.checkin_points(streak);
    let key = checkin_key(openid, date);
    let streak_text = streak.to_string();
    let entry = LedgerEntry {
        at,
        delta: points,
        growth: points,
        kind: "checkin".into(),
        reason: format!("check-in {date}, day {streak} / 签到第 {streak} 天"),
        by: None,
    };
    let added = if points > 0 {
        earn(
            openid,
            points,
            config,
            date,
            entry,
            Some((&key, streak_text.as_bytes())),
        )?
    } else {
        store::ensure_member(openid, date, config)?;
        matches!(
            storage::batch(
                &[Check::absent(&key)],
                &[Write::set(&key, streak_text.clone())]
            )?,
            BatchOutcome::Applied
        )
    };
    let streak = if added {
        streak
    } else {
        storage::get_string(&key)?
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(streak)
    };
    Ok(CheckedIn {
        checked_in: added,
        date: date.to_string(),
        streak,
        points: if added { points } else { 0 },
        balance: store::counter(&store::points_key(openid))?,
    })
}

/// A signed link to the member card for `openid`.
pub fn card_url(openid: &str, config: &Config) -> Result<String> {
    links::follower_url(openid, "/me", config.card_link_hours.saturating_mul(3600))
}

/// What the daily job did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Daily {
    pub date: String,
    pub expired_points: i64,
    pub birthday_sent: u32,
    pub renewal_sent: u32,
}

/// The daily job for `date` (the account's calendar day): expires lots, sends birthday and
/// renewal reminders once each (per year / per term, even when the job fires twice).
pub fn run_daily(config: &Config, date: NaiveDate, at: u64) -> Result<Daily> {
    let mut done = Daily {
        date: date.to_string(),
        expired_points: store::expire_lots(config, date, at)?,
        ..Daily::default()
    };
    if config.birthday_reminder.is_none() && config.renewal_reminder.is_none() {
        return Ok(done);
    }
    for entry in store::members() {
        let (openid, member) = entry?;
        if let Some(reminder) = &config.birthday_reminder {
            let birthday = match &member.birthday {
                Some(b) => Some(b.clone()),
                None => followers::get(&openid)
                    .ok()
                    .and_then(|f| f.attribute("birthday").map(str::to_string)),
            };
            if birthday.is_some_and(|b| rules::is_birthday(&b, date)) {
                let once = format!("sent:birthday:{openid}:{}", date.year());
                if remind(config, &openid, &member, reminder, &once, date)? {
                    done.birthday_sent += 1;
                }
            }
        }
        if let (Some(reminder), Some(end)) = (
            &config.renewal_reminder,
            rules::parse_date(&member.expires_on),
        ) && rules::renewal_due(end, reminder.days_before, date)
        {
            let once = format!("sent:renewal:{openid}:{}", member.expires_on);
            if remind(config, &openid, &member, reminder, &once, date)? {
                done.renewal_sent += 1;
            }
        }
    }
    Ok(done)
}

/// Sends one reminder unless `once` was already claimed; a failed send releases the claim so
/// that the next run tries again. Returns whether it was sent.
fn remind(
    config: &Config,
    openid: &str,
    member: &Member,
    reminder: &rules::Reminder,
    once: &str,
    date: NaiveDate,
) -> Result<bool> {
    let claimed = storage::batch(
        &[Check::absent(once)],
        &[Write::set(once, date.to_string())],
    )?;
    if claimed != BatchOutcome::Applied {
        return Ok(false);
    }
    let state = status(openid, config, date)?;
    let nickname = followers::get(openid)
        .map(|f| f.nickname)
        .unwrap_or_default();
    let days = rules::parse_date(&member.expires_on)
        .map(|end| (end - date).num_days())
        .unwrap_or(0);
    let values = [
        ("nickname", nickname),
        ("level", state.level_name.clone()),
        ("points", state.points.to_string()),
        ("expires_on", member.expires_on.clone()),
        ("days", days.to_string()),
    ];
    let fields: Vec<TemplateField> = reminder
        .fields
        .iter()
        .map(|(name, value)| TemplateField {
            name: name.clone(),
            value: rules::fill(value, &values),
            color: None,
        })
        .collect();
    let url = card_url(openid, config).ok();
    match messaging::send_template(openid, &reminder.template_id, &fields, url.as_deref()) {
        Ok(_) => Ok(true),
        Err(e) => {
            log::warn(format!(
                "reminder {once:?} to {openid:?} not sent: {}",
                e.display()
            ));
            storage::delete(once)?;
            Ok(false)
        }
    }
}
