//! Points, members, rewards and their keys in the plugin's storage.
//!
//! **Points live in lots**, one counter per member and month earned (`lot:{openid}:{YYYY-MM}`),
//! next to the spendable balance `pts:{openid}`. Every change of the balance changes the lots in
//! the same [`storage::batch`], so `pts == sum(lots)` always holds; a spend takes the oldest lots
//! first, and expiry removes whole lots — exact to the month, whatever was spent meanwhile. An
//! index `lotidx:{YYYY-MM}:{openid}` lets the daily job visit only the months that expire.
//!
//! Every balance change writes a ledger entry (`ledger:{openid}:{seq}`) in the same batch: who
//! (for operator adjustments), why and how much. Spends carry `counter-at-least` checks on the
//! balance and each lot, so concurrent spends never take a point twice and the balance never goes
//! negative; a redemption adds `counter-at-least(stock, 1)`, so stock is never oversold.

use chrono::NaiveDate;
use plaza_sdk::storage::{self, BatchOutcome, Check, Write};
use plaza_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::rules::{self, Config};

/// Attempts of a spend or an expiry whose lots changed underneath it before giving up.
const ATTEMPTS: usize = 32;

pub fn points_key(openid: &str) -> String {
    format!("pts:{openid}")
}
pub fn growth_key(openid: &str) -> String {
    format!("growth:{openid}")
}
fn lot_key(openid: &str, month: &str) -> String {
    format!("lot:{openid}:{month}")
}
fn lot_index_key(month: &str, openid: &str) -> String {
    format!("lotidx:{month}:{openid}")
}
fn member_key(openid: &str) -> String {
    format!("member:{openid}")
}
pub fn stock_key(reward: &str) -> String {
    format!("stock:{reward}")
}
fn reward_key(reward: &str) -> String {
    format!("reward:{reward}")
}

/// A counter's value (absent = 0).
pub fn counter(key: &str) -> Result<i64> {
    match storage::get_string(key)? {
        None => Ok(0),
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| Error::internal(format!("counter {key:?} holds {s:?}"))),
    }
}

/// A fresh sequence number (ledger entries, redemptions, bookings): unique per installation.
pub fn next_seq() -> Result<i64> {
    storage::increment("seq", 1)
}

/// A member's record. A follower becomes a member when they first open the card, check in or
/// earn points; the membership then runs `membership_term_months` (renewed by an operator).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub joined_on: String,
    pub expires_on: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// The level whose tag the member carries (set when tagged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

impl Member {
    /// Whether the membership runs on `date`.
    pub fn active_on(&self, date: NaiveDate) -> bool {
        rules::parse_date(&self.expires_on).is_some_and(|end| date < end)
    }
}

pub fn member(openid: &str) -> Result<Option<Member>> {
    storage::get_json(&member_key(openid))
}

/// The member's record, created (joined today) if there is none.
pub fn ensure_member(openid: &str, today: NaiveDate, config: &Config) -> Result<Member> {
    let updated = storage::update_json(&member_key(openid), |m: Option<Member>| {
        Ok(Some(m.unwrap_or_else(|| Member {
            joined_on: today.to_string(),
            expires_on: config.term_end(today).to_string(),
            birthday: None,
            level: None,
        })))
    })?;
    updated.ok_or_else(|| Error::internal("member record vanished"))
}

/// Changes a member's record (which must exist).
pub fn update_member(openid: &str, f: impl Fn(&mut Member)) -> Result<Member> {
    let updated = storage::update_json(&member_key(openid), |m: Option<Member>| match m {
        Some(mut m) => {
            f(&mut m);
            Ok(Some(m))
        }
        None => Err(Error::not_found(format!("{openid:?} is not a member"))),
    })?;
    updated.ok_or_else(|| Error::internal("member record vanished"))
}

/// Every member, in openid order.
pub fn members() -> impl Iterator<Item = Result<(String, Member)>> {
    storage::scan_prefix_json::<Member>("member:")
        .map(|r| r.map(|(key, m)| (key.strip_prefix("member:").unwrap_or(&key).to_string(), m)))
}

/// One line of a member's points history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerEntry {
    pub at: u64,
    /// Points added (negative: taken).
    pub delta: i64,
    /// Growth added (operator adjustments may change it; earning adds as much as the points).
    #[serde(default)]
    pub growth: i64,
    /// `checkin`, `purchase`, `award`, `redeem`, `adjust`, `expire`.
    pub kind: String,
    pub reason: String,
    /// The operator (token name) for adjustments, the calling plugin for awards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

fn ledger_write(openid: &str, entry: &LedgerEntry) -> Result<Write> {
    let seq = next_seq()?;
    let value = serde_json::to_vec(entry)
        .map_err(|e| Error::internal(format!("cannot encode a ledger entry: {e}")))?;
    Ok(Write::set(format!("ledger:{openid}:{seq:012}"), value))
}

/// The member's ledger, newest first, at most `limit` entries.
pub fn ledger(openid: &str, limit: usize) -> Result<Vec<LedgerEntry>> {
    let mut all: Vec<LedgerEntry> =
        storage::scan_prefix_json::<LedgerEntry>(&format!("ledger:{openid}:"))
            .map(|r| r.map(|(_, e)| e))
            .collect::<Result<_>>()?;
    all.reverse();
    all.truncate(limit);
    Ok(all)
}

/// The member's lots `(month, points)`, oldest first (empty lots included).
pub fn lots(openid: &str) -> Result<Vec<(String, i64)>> {
    let prefix = format!("lot:{openid}:");
    storage::scan_prefix(&prefix)
        .map(|entry| {
            let entry = entry?;
            let month = entry.key[prefix.len()..].to_string();
            let text = String::from_utf8_lossy(&entry.value).into_owned();
            let points = text
                .trim()
                .parse()
                .map_err(|_| Error::internal(format!("lot {:?} holds {text:?}", entry.key)))?;
            Ok((month, points))
        })
        .collect()
}

/// Adds `points` (> 0) to the member's balance in this month's lot, and `growth` to their
/// growth, with a ledger entry; when `once` names a key, only if that key is absent (it is set
/// to the given value in the same batch: check-in days, order ids, award keys). Returns whether
/// the points were added.
pub fn earn(
    openid: &str,
    points: i64,
    growth: i64,
    today: NaiveDate,
    entry: &LedgerEntry,
    once: Option<(&str, &[u8])>,
) -> Result<bool> {
    if points <= 0 {
        return Err(Error::invalid("points to add must be positive"));
    }
    let month = rules::month_of(today);
    let mut checks = Vec::new();
    let mut writes = Vec::new();
    if let Some((key, value)) = once {
        checks.push(Check::absent(key));
        writes.push(Write::set(key, value.to_vec()));
    }
    writes.push(Write::increment(points_key(openid), points));
    writes.push(Write::increment(lot_key(openid, &month), points));
    writes.push(Write::set(lot_index_key(&month, openid), Vec::new()));
    if growth != 0 {
        writes.push(Write::increment(growth_key(openid), growth));
    }
    writes.push(ledger_write(openid, entry)?);
    match storage::batch(&checks, &writes)? {
        BatchOutcome::Applied => Ok(true),
        BatchOutcome::CheckFailed(_) => Ok(false),
    }
}

/// How a spend ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    Done,
    /// The balance is lower than the cost: nothing taken.
    Insufficient,
    /// The caller's own check at this index failed (e.g. the stock): nothing taken.
    CheckFailed(usize),
}

/// Takes `cost` (> 0) points, oldest lots first, atomically with the caller's `checks` and
/// `writes` (a redemption's stock and record) and a ledger entry. Retries when a concurrent
/// change moved the lots between reading and writing.
pub fn spend(
    openid: &str,
    cost: i64,
    checks: &[Check],
    writes: &[Write],
    entry: &LedgerEntry,
) -> Result<Spent> {
    if cost <= 0 {
        return Err(Error::invalid("points to take must be positive"));
    }
    let ledger = ledger_write(openid, entry)?;
    for _ in 0..ATTEMPTS {
        let Some(plan) = rules::plan_spend(&lots(openid)?, cost) else {
            // The lots hold less than the cost; confirm on the balance itself (the lots were
            // read one by one, a concurrent earn may have been half visible).
            if counter(&points_key(openid))? < cost {
                // Still report a failing caller check first (out of stock beats poor).
                return Ok(Spent::Insufficient);
            }
            continue;
        };
        let mut all_checks = checks.to_vec();
        all_checks.push(Check::counter_at_least(points_key(openid), cost));
        let mut all_writes = writes.to_vec();
        all_writes.push(Write::increment(points_key(openid), -cost));
        for (month, take) in &plan {
            all_checks.push(Check::counter_at_least(lot_key(openid, month), *take));
            all_writes.push(Write::increment(lot_key(openid, month), -take));
        }
        all_writes.push(ledger.clone());
        match storage::batch(&all_checks, &all_writes)? {
            BatchOutcome::Applied => return Ok(Spent::Done),
            BatchOutcome::CheckFailed(i) => {
                let i = i as usize;
                if i < checks.len() {
                    return Ok(Spent::CheckFailed(i));
                }
                if i == checks.len() {
                    return Ok(Spent::Insufficient);
                }
                // A lot changed since it was read: plan again.
            }
        }
    }
    Err(Error::conflict(
        "the points kept changing while taking them; try again",
    ))
}

/// Expires every lot whose expiry day is `date` or earlier; returns the points removed.
pub fn expire_lots(config: &Config, date: NaiveDate, at: u64) -> Result<i64> {
    let mut due = Vec::new();
    for entry in storage::scan_prefix("lotidx:") {
        let entry = entry?;
        let rest = &entry.key["lotidx:".len()..];
        let Some((month, openid)) = rest.split_at_checked(7).map(|(m, o)| (m, &o[1..])) else {
            continue;
        };
        match config.lot_expires_on(month) {
            Some(expires) if expires <= date => due.push((month.to_string(), openid.to_string())),
            // Months are in key order: the rest expire later.
            _ => break,
        }
    }
    let mut removed = 0;
    for (month, openid) in due {
        removed += expire_lot(&openid, &month, at)?;
    }
    Ok(removed)
}

fn expire_lot(openid: &str, month: &str, at: u64) -> Result<i64> {
    let key = lot_key(openid, month);
    for _ in 0..ATTEMPTS {
        let current = storage::get(&key)?;
        let points = match &current {
            None => 0,
            Some(v) => String::from_utf8_lossy(v)
                .trim()
                .parse::<i64>()
                .unwrap_or(0),
        };
        let mut checks = Vec::new();
        let mut writes = vec![Write::delete(lot_index_key(month, openid))];
        match &current {
            None => checks.push(Check::absent(&key)),
            Some(v) => {
                checks.push(Check::equals(&key, v.clone()));
                writes.push(Write::delete(&key));
            }
        }
        if points > 0 {
            checks.push(Check::counter_at_least(points_key(openid), points));
            writes.push(Write::increment(points_key(openid), -points));
            writes.push(ledger_write(
                openid,
                &LedgerEntry {
                    at,
                    delta: -points,
                    growth: 0,
                    kind: "expire".into(),
                    reason: format!("points earned in {month} expired / {month} 积分过期"),
                    by: None,
                },
            )?);
        }
        match storage::batch(&checks, &writes)? {
            BatchOutcome::Applied => return Ok(points.max(0)),
            BatchOutcome::CheckFailed(0) => continue,
            BatchOutcome::CheckFailed(_) => {
                return Err(Error::internal(format!(
                    "the balance of {openid:?} is below its lot {month}"
                )));
            }
        }
    }
    Err(Error::conflict(format!(
        "lot {month} of {openid:?} kept changing while expiring it"
    )))
}

/// A reward of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reward {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Points it costs (> 0).
    pub cost: i64,
}

pub fn reward(id: &str) -> Result<Option<Reward>> {
    storage::get_json(&reward_key(id))
}

pub fn save_reward(reward: &Reward) -> Result<()> {
    storage::set_json(&reward_key(&reward.id), reward)
}

pub fn rewards() -> Result<Vec<Reward>> {
    storage::scan_prefix_json::<Reward>("reward:")
        .map(|r| r.map(|(_, v)| v))
        .collect()
}

/// A redemption: who took which reward for how many points.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Redemption {
    pub id: String,
    pub reward: String,
    pub name: String,
    pub openid: String,
    pub cost: i64,
    pub at: u64,
}

/// Every redemption, oldest first (all members when `openid` is `None`).
pub fn redemptions(openid: Option<&str>) -> Result<Vec<Redemption>> {
    let prefix = match openid {
        Some(o) => format!("redemption:{o}:"),
        None => "redemption:".into(),
    };
    let mut all: Vec<Redemption> = storage::scan_prefix_json::<Redemption>(&prefix)
        .map(|r| r.map(|(_, v)| v))
        .collect::<Result<_>>()?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

/// Redeems `reward` for `openid`: one batch checks the stock and the points and writes the
/// stock, the points, the lots, the redemption and the ledger entry.
pub fn redeem(openid: &str, reward: &Reward, at: u64) -> Result<Redemption> {
    let seq = next_seq()?;
    let redemption = Redemption {
        id: format!("r{seq:012}"),
        reward: reward.id.clone(),
        name: reward.name.clone(),
        openid: openid.to_string(),
        cost: reward.cost,
        at,
    };
    let record = serde_json::to_vec(&redemption)
        .map_err(|e| Error::internal(format!("cannot encode a redemption: {e}")))?;
    let checks = [Check::counter_at_least(stock_key(&reward.id), 1)];
    let writes = [
        Write::increment(stock_key(&reward.id), -1),
        Write::set(format!("redemption:{openid}:{}", redemption.id), record),
    ];
    let entry = LedgerEntry {
        at,
        delta: -reward.cost,
        growth: 0,
        kind: "redeem".into(),
        reason: format!("redeemed {} / 兑换 {}", reward.name, reward.name),
        by: None,
    };
    match spend(openid, reward.cost, &checks, &writes, &entry)? {
        Spent::Done => Ok(redemption),
        Spent::CheckFailed(_) => Err(Error::conflict(format!(
            "{} is out of stock / 库存不足",
            reward.name
        ))),
        Spent::Insufficient => Err(Error::conflict(format!(
            "not enough points: {} costs {} / 积分不足",
            reward.name, reward.cost
        ))),
    }
}
