//! Signed preview links: `/preview/{id}?exp=…&sig=…`, where `sig` is HMAC-SHA256 over the
//! account, the article and the expiry with a random key kept in this installation's storage
//! (never shown to anyone). Anyone holding the link may read the draft until it expires.

use plaza_sdk::signing::Key;

/// The signature of a preview of `article` on `account` valid until `expires_at` (ms).
pub fn sign(key: &Key, account: &str, article: &str, expires_at: u64) -> String {
    key.sign_hex(message(account, article, expires_at).as_bytes())
}

fn message(account: &str, article: &str, expires_at: u64) -> String {
    format!("preview\n{account}\n{article}\n{expires_at}")
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
    key: &Key,
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
    if !key.verify_hex(message(account, article, expires_at).as_bytes(), sig) {
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
        let key = &Key::new(b"0123456789abcdef").expect("key");
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
            verify(
                &Key::new(b"another key").expect("key"),
                "acct",
                "a1",
                Some("1000"),
                Some(&sig),
                0
            ),
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
