//! Coupons: kinds defined by operators (amount off or percent off, minimum spend, valid days),
//! issued to a segment (one coupon per follower, idempotent per issue id), redeemed at checkout
//! (atomically with the order) or at the counter with their one-time code (核销).

use plaza_sdk::storage::{self, Check, Write};
use plaza_sdk::{Error, Result, followers, log};
use serde::{Deserialize, Serialize};

use crate::util::{check_id, now_ms, random_code};

/// A kind of coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponKind {
    #[serde(default)]
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub amount_off_cents: Option<i64>,
    #[serde(default)]
    pub percent_off: Option<u32>,
    #[serde(default)]
    pub min_spend_cents: i64,
    pub valid_days: u32,
}

impl CouponKind {
    /// Validates an operator's definition.
    pub fn check(&self) -> Result<()> {
        check_id("coupon kind", &self.id)?;
        if self.title.trim().is_empty() || self.title.chars().count() > 60 {
            return Err(Error::invalid("title must be 1 to 60 characters"));
        }
        match (self.amount_off_cents, self.percent_off) {
            (Some(a), None) if a > 0 => {}
            (None, Some(p)) if (1..=99).contains(&p) => {}
            _ => {
                return Err(Error::invalid(
                    "give exactly one of amount_off_cents (> 0) or percent_off (1 to 99)",
                ));
            }
        }
        if self.min_spend_cents < 0 || !(1..=3650).contains(&self.valid_days) {
            return Err(Error::invalid(
                "min_spend_cents must be ≥ 0 and valid_days 1 to 3650",
            ));
        }
        Ok(())
    }
}

/// Where a coupon stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    Issued,
    Used,
}

/// One follower's coupon; its `code` is also the one-time code shown at the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub code: String,
    pub kind: String,
    pub title: String,
    pub openid: String,
    #[serde(default)]
    pub amount_off_cents: Option<i64>,
    #[serde(default)]
    pub percent_off: Option<u32>,
    pub min_spend_cents: i64,
    pub issued_at: u64,
    pub expires_at: u64,
    pub state: CouponState,
    /// `order:<id>` or `counter:<operator>`.
    #[serde(default)]
    pub used_by: Option<String>,
    #[serde(default)]
    pub used_at: Option<u64>,
}

impl Coupon {
    /// The discount on `amount` cents, or why the coupon does not apply.
    pub fn discount_on(&self, amount: i64, now: u64) -> Result<i64> {
        if self.state != CouponState::Issued {
            return Err(Error::conflict(format!(
                "coupon {} was already used 优惠券已使用",
                self.code
            )));
        }
        if now >= self.expires_at {
            return Err(Error::conflict(format!(
                "coupon {} has expired 优惠券已过期",
                self.code
            )));
        }
        if amount < self.min_spend_cents {
            return Err(Error::conflict(format!(
                "coupon {} needs a spend of at least {} 未达到使用门槛",
                self.code,
                crate::util::yuan(self.min_spend_cents)
            )));
        }
        let off = match (self.amount_off_cents, self.percent_off) {
            (Some(a), _) => a,
            (None, Some(p)) => amount * i64::from(p) / 100,
            (None, None) => 0,
        };
        // An order always costs at least one cent.
        Ok(off.clamp(0, (amount - 1).max(0)))
    }
}

/// Storage keys.
pub fn kind_key(id: &str) -> String {
    format!("coupon-kind:{id}")
}
pub fn coupon_key(code: &str) -> String {
    format!("coupon:{code}")
}
pub fn mine_key(openid: &str, code: &str) -> String {
    format!("mycoupon:{openid}:{code}")
}
fn issued_key(issue: &str, openid: &str) -> String {
    format!("issued:{issue}:{openid}")
}

/// The coupon `code` with its stored bytes (for a `Check::equals` in a batch).
pub fn get_raw(code: &str) -> Result<Option<(Coupon, Vec<u8>)>> {
    let Some(raw) = storage::get(&coupon_key(code))? else {
        return Ok(None);
    };
    let coupon = serde_json::from_slice(&raw)
        .map_err(|e| Error::internal(format!("coupon {code} is not readable: {e}")))?;
    Ok(Some((coupon, raw)))
}

/// A follower's coupons, newest first.
pub fn of(openid: &str) -> Result<Vec<Coupon>> {
    let mut out = Vec::new();
    for entry in storage::scan_prefix(&format!("mycoupon:{openid}:")) {
        let entry = entry?;
        let code = entry.key.rsplit(':').next().unwrap_or_default();
        if let Some((c, _)) = get_raw(code)? {
            out.push(c);
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.issued_at));
    Ok(out)
}

/// How an issue went.
#[derive(Debug, Default, Serialize)]
pub struct Issued {
    pub issued: u64,
    pub already: u64,
}

/// Issues one coupon of `kind` to every follower of `segment` (or of `openids`), at most once per
/// follower per `issue_id`: running the same issue again issues nothing new.
pub fn issue(
    kind: &CouponKind,
    issue_id: &str,
    segment: Option<&str>,
    openids: Option<Vec<String>>,
) -> Result<Issued> {
    check_id("issue_id", issue_id)?;
    let now = now_ms();
    let mut done = Issued::default();
    let mut targets: Vec<String> = match openids {
        Some(list) => list,
        None => followers::list_all(segment)
            .map(|f| f.map(|f| f.openid))
            .collect::<Result<_>>()?,
    };
    targets.sort();
    targets.dedup();
    for chunk in targets.chunks(50) {
        let mut checks = Vec::new();
        let mut writes = Vec::new();
        for openid in chunk {
            if openid.is_empty() || openid.len() > 128 {
                continue;
            }
            if storage::get(&issued_key(issue_id, openid))?.is_some() {
                done.already += 1;
                continue;
            }
            let code = random_code(12);
            let coupon = Coupon {
                code: code.clone(),
                kind: kind.id.clone(),
                title: kind.title.clone(),
                openid: openid.clone(),
                amount_off_cents: kind.amount_off_cents,
                percent_off: kind.percent_off,
                min_spend_cents: kind.min_spend_cents,
                issued_at: now,
                expires_at: now + u64::from(kind.valid_days) * 86_400_000,
                state: CouponState::Issued,
                used_by: None,
                used_at: None,
            };
            let bytes = serde_json::to_vec(&coupon)
                .map_err(|e| Error::internal(format!("coupon encoding: {e}")))?;
            checks.push(Check::absent(issued_key(issue_id, openid)));
            checks.push(Check::absent(coupon_key(&code)));
            writes.push(Write::set(issued_key(issue_id, openid), code.clone()));
            writes.push(Write::set(coupon_key(&code), bytes));
            writes.push(Write::set(mine_key(openid, &code), Vec::new()));
        }
        if writes.is_empty() {
            continue;
        }
        let n = (writes.len() / 3) as u64;
        match storage::batch(&checks, &writes)? {
            storage::BatchOutcome::Applied => done.issued += n,
            other => {
                // Another run of the same issue got there first for one of them: these go one by one.
                log::warn(format!(
                    "coupon issue {issue_id}: batch refused ({other:?}), retrying singly"
                ));
                for i in 0..(writes.len() / 3) {
                    let outcome =
                        storage::batch(&checks[2 * i..2 * i + 2], &writes[3 * i..3 * i + 3])?;
                    if outcome == storage::BatchOutcome::Applied {
                        done.issued += 1;
                    } else {
                        done.already += 1;
                    }
                }
            }
        }
    }
    Ok(done)
}

/// Marks coupon `code` used at the counter by `by`; exactly one of concurrent calls wins.
pub fn redeem_at_counter(code: &str, by: &str) -> Result<Coupon> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty() || code.len() > 32 {
        return Err(Error::invalid("code must be 1 to 32 characters"));
    }
    let (coupon, raw) =
        get_raw(&code)?.ok_or_else(|| Error::not_found(format!("no coupon {code:?} 无此券码")))?;
    let now = now_ms();
    coupon.discount_on(i64::MAX / 2, now).map(|_| ())?;
    let mut used = coupon.clone();
    used.state = CouponState::Used;
    used.used_by = Some(format!("counter:{by}"));
    used.used_at = Some(now);
    let bytes =
        serde_json::to_vec(&used).map_err(|e| Error::internal(format!("coupon encoding: {e}")))?;
    if !storage::compare_and_swap(&coupon_key(&code), Some(&raw), Some(&bytes))? {
        return Err(Error::conflict(format!(
            "coupon {code} was already used 优惠券已使用"
        )));
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(amount: Option<i64>, percent: Option<u32>, min: i64) -> Coupon {
        Coupon {
            code: "C".into(),
            kind: "k".into(),
            title: "t".into(),
            openid: "o".into(),
            amount_off_cents: amount,
            percent_off: percent,
            min_spend_cents: min,
            issued_at: 0,
            expires_at: 1000,
            state: CouponState::Issued,
            used_by: None,
            used_at: None,
        }
    }

    #[test]
    fn discounts() {
        assert_eq!(
            coupon(Some(500), None, 0).discount_on(2000, 1).unwrap(),
            500
        );
        assert_eq!(coupon(None, Some(10), 0).discount_on(2000, 1).unwrap(), 200);
        assert_eq!(
            coupon(Some(5000), None, 0).discount_on(2000, 1).unwrap(),
            1999
        );
        assert!(coupon(Some(500), None, 3000).discount_on(2000, 1).is_err());
        assert!(coupon(Some(500), None, 0).discount_on(2000, 1000).is_err());
        let mut used = coupon(Some(500), None, 0);
        used.state = CouponState::Used;
        assert!(used.discount_on(2000, 1).is_err());
    }

    #[test]
    fn kinds_are_checked() {
        let mut k = CouponKind {
            id: "k1".into(),
            title: "满100减10".into(),
            amount_off_cents: Some(1000),
            percent_off: None,
            min_spend_cents: 10000,
            valid_days: 30,
        };
        assert!(k.check().is_ok());
        k.percent_off = Some(10);
        assert!(k.check().is_err());
        k.amount_off_cents = None;
        assert!(k.check().is_ok());
        k.valid_days = 0;
        assert!(k.check().is_err());
    }
}
