//! Signed decision tokens for the impression pixel and the click link, and the fraud rules that
//! exclude clicks from billing (plain Rust, unit-tested natively).

use plaza_sdk::signing::Key;
use plaza_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::model::Config;

/// One serving decision, named by the tracking URLs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Decision {
    /// `a` for a 流量主 ad, `c` for a 互选 campaign.
    pub k: String,
    /// The ad or campaign id.
    pub id: String,
    pub slot: String,
    /// The viewer's openid, empty when anonymous.
    pub o: String,
    /// When the decision was made (ms) and the account-local day.
    pub t: u64,
    pub d: String,
    /// Random, names the decision (de-duplication key).
    pub n: String,
}

/// `hex(json) . hex(hmac-sha256(key, hex(json)))`.
pub fn sign(key: &Key, decision: &Decision) -> Result<String> {
    let json = serde_json::to_vec(decision)
        .map_err(|e| Error::internal(format!("cannot encode a decision: {e}")))?;
    let body = hex::encode(json);
    let tag = key.sign_hex(body.as_bytes());
    Ok(format!("{body}.{tag}"))
}

/// The decision a token names, if its signature holds and it is not older than the configured
/// TTL; [`Error::PermissionDenied`] otherwise (rejected outright, never counted).
pub fn verify(key: &Key, token: &str, now: u64, config: &Config) -> Result<Decision> {
    let bad = || Error::permission_denied("invalid tracking token");
    let (body, tag) = token.split_once('.').ok_or_else(bad)?;
    if !key.verify_hex(body.as_bytes(), tag) {
        return Err(bad());
    }
    let json = hex::decode(body).map_err(|_| bad())?;
    let decision: Decision = serde_json::from_slice(&json).map_err(|_| bad())?;
    let ttl = u64::from(config.token_ttl_hours) * 3_600_000;
    if now > decision.t.saturating_add(ttl) {
        return Err(Error::permission_denied(
            "expired tracking token (the decision is older than token_ttl_hours)",
        ));
    }
    Ok(decision)
}

/// What the click's checks found, gathered from storage counters.
pub struct ClickFacts {
    /// Another click of the same decision was recorded before.
    pub duplicate: bool,
    /// The decision's impression pixel was recorded.
    pub had_impression: bool,
    /// Clicks by this follower on this ad in the current window, this one included (0: anonymous).
    pub clicks_in_window: u64,
    /// The follower's lifetime impressions and clicks (this one included); `None` when anonymous.
    pub follower: Option<(u64, u64)>,
    /// The slot's impressions and clicks today (this one included).
    pub slot: (u64, u64),
}

/// Why a click is excluded from billing (it is still recorded), or `None` if it is billable.
/// Checked in this order, the first that applies is the reason.
pub fn click_exclusion(facts: &ClickFacts, config: &Config) -> Option<&'static str> {
    if facts.duplicate {
        return Some("duplicate");
    }
    if !facts.had_impression {
        return Some("no_impression");
    }
    if facts.clicks_in_window > u64::from(config.repeat_click_max) {
        return Some("repeated_click");
    }
    if let Some((imp, clk)) = facts.follower
        && abnormal(imp, clk, config)
    {
        return Some("abnormal_ctr_follower");
    }
    if abnormal(facts.slot.0, facts.slot.1, config) {
        return Some("abnormal_ctr_slot");
    }
    None
}

/// Clicks over impressions above the threshold, once the sample is large enough.
fn abnormal(impressions: u64, clicks: u64, config: &Config) -> bool {
    impressions >= u64::from(config.ctr_min_impressions)
        && clicks * 100 > impressions * u64::from(config.ctr_max_percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision() -> Decision {
        Decision {
            k: "a".into(),
            id: "ad1".into(),
            slot: "s1".into(),
            o: "o1".into(),
            t: 1_000,
            d: "2026-01-01".into(),
            n: "abcd".into(),
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering_other_keys_and_age() {
        let config = Config::default();
        let k1 = Key::new(b"k1").unwrap();
        let k2 = Key::new(b"k2").unwrap();
        let token = sign(&k1, &decision()).unwrap();
        assert_eq!(verify(&k1, &token, 2_000, &config).unwrap(), decision());
        assert!(verify(&k2, &token, 2_000, &config).is_err());
        let mut forged = decision();
        forged.id = "ad2".into();
        let forged_body = sign(&k1, &forged).unwrap();
        let spliced = format!(
            "{}.{}",
            forged_body.split_once('.').unwrap().0,
            token.split_once('.').unwrap().1
        );
        assert!(verify(&k1, &spliced, 2_000, &config).is_err());
        let late = 1_000 + 24 * 3_600_000 + 1;
        assert!(
            verify(&k1, &token, late, &config)
                .unwrap_err()
                .message()
                .contains("expired")
        );
        assert!(verify(&k1, "nonsense", 2_000, &config).is_err());
    }

    fn facts() -> ClickFacts {
        ClickFacts {
            duplicate: false,
            had_impression: true,
            clicks_in_window: 1,
            follower: Some((5, 1)),
            slot: (5, 1),
        }
    }

    #[test]
    fn fraud_rules_in_order() {
        let c = Config::default();
        assert_eq!(click_exclusion(&facts(), &c), None);
        assert_eq!(
            click_exclusion(
                &ClickFacts {
                    duplicate: true,
                    ..facts()
                },
                &c
            ),
            Some("duplicate")
        );
        assert_eq!(
            click_exclusion(
                &ClickFacts {
                    had_impression: false,
                    ..facts()
                },
                &c
            ),
            Some("no_impression")
        );
        assert_eq!(
            click_exclusion(
                &ClickFacts {
                    clicks_in_window: 2,
                    ..facts()
                },
                &c
            ),
            Some("repeated_click")
        );
        // 20 impressions, 11 clicks: 55% > 50%.
        assert_eq!(
            click_exclusion(
                &ClickFacts {
                    follower: Some((20, 11)),
                    ..facts()
                },
                &c
            ),
            Some("abnormal_ctr_follower")
        );
        // Below the minimum sample, a high rate is not judged.
        assert_eq!(
            click_exclusion(
                &ClickFacts {
                    follower: Some((19, 19)),
                    ..facts()
                },
                &c
            ),
            None
        );
        assert_eq!(
            click_exclusion(
                &ClickFacts {
                    slot: (40, 30),
                    follower: None,
                    ..facts()
                },
                &c
            ),
            Some("abnormal_ctr_slot")
        );
    }
}
