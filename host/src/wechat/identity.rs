//! The identity a Plaza account shows in the WeChat protocol: an AppID (`wx` + 16 hex) and an
//! original id (`gh_` + 12 hex), both derived from the account id so that they are stable across
//! restarts and backups, need no storage, and every part of the host agrees on them.

use sha2::{Digest, Sha256};

fn digest_hex(domain: &str, account: &str) -> String {
    let mut h = Sha256::new();
    h.update(domain.as_bytes());
    h.update([0]);
    h.update(account.as_bytes());
    hex::encode(h.finalize())
}

/// The AppID of a Plaza account: `wx` followed by 16 lowercase hex digits.
pub fn appid_for(account: &str) -> String {
    format!("wx{}", &digest_hex("plaza-appid", account)[..16])
}

/// The original id (原始ID) of a Plaza account, the `ToUserName` of its pushes: `gh_` followed by
/// 12 lowercase hex digits.
pub fn original_id_for(account: &str) -> String {
    format!("gh_{}", &digest_hex("plaza-original-id", account)[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_have_wechat_shapes_and_differ_per_account() {
        let a = appid_for("demo");
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("wx") && a[2..].chars().all(|c| c.is_ascii_hexdigit()));
        let g = original_id_for("demo");
        assert_eq!(g.len(), 15);
        assert!(g.starts_with("gh_"));
        assert_ne!(appid_for("demo"), appid_for("cafe"));
        assert_eq!(appid_for("demo"), a, "stable");
    }
}
