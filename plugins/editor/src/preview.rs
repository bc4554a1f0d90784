//! Signed preview links: `/preview/{id}?exp=…&sig=…`, where `sig` is HMAC-SHA256 over the
//! account, the article and the expiry with a random key kept in this installation's storage
//! (never shown to anyone). Anyone holding the link may read the draft until it expires.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The signature of a preview of `article` on `account` valid until `expires_at` (ms).
pub fn sign(key: &[u8], account: &str, article: &str, expires_at: u64) -> String {
    // Any key length is valid for HMAC; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("preview\n{account}\n{article}\n{expires_at}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Why a preview link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    BadSignature,
    Expired,
}

/// Checks `sig` and `exp` (as found in the query) at `now`.
pub fn verify(
    key: &[u8],
    account: &str,
    article: &str,
    exp: Option<&str>,
    sig: Option<&str>,
    now: u64,
) -> Result<(), Refusal> {
    let (Some(exp), Some(sig)) = (exp, sig) else {
        return Err(Refusal::Malformed);
    };
    let expires_at: u64 = exp.parse().map_err(|_| Refusal::Malformed)?;
    let expected = sign(key, account, article, expires_at);
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(sig.as_bytes())) {
        return Err(Refusal::BadSignature);
    }
    if now >= expires_at {
        return Err(Refusal::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_account_article_and_expiry() {
        let key = b"0123456789abcdef";
        let sig = sign(key, "acct", "a1", 1000);
        assert_eq!(
            verify(key, "acct", "a1", Some("1000"), Some(&sig), 999),
            Ok(())
        );
        assert_eq!(
            verify(key, "acct", "a1", Some("1000"), Some(&sig), 1000),
            Err(Refusal::Expired)
        );
        for (acct, art, exp) in [
            ("other", "a1", "1000"),
            ("acct", "a2", "1000"),
            ("acct", "a1", "2000"),
        ] {
            assert_eq!(
                verify(key, acct, art, Some(exp), Some(&sig), 0),
                Err(Refusal::BadSignature)
            );
        }
        assert_eq!(
            verify(b"another key", "acct", "a1", Some("1000"), Some(&sig), 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(key, "acct", "a1", None, Some(&sig), 0),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            verify(key, "acct", "a1", Some("x"), Some(&sig), 0),
            Err(Refusal::Malformed)
        );
    }
}
