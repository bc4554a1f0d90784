//! Request signatures: `signature = sha1(sort(token, timestamp, nonce))` on every push and
//! handshake, and `msg_signature = sha1(sort(token, timestamp, nonce, Encrypt))` on encrypted
//! bodies and replies. The values are sorted byte-wise (not their names), concatenated, hashed,
//! and written as lowercase hex.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// `sha1(sort(parts))` as lowercase hex.
fn sorted_sha1(parts: &mut [&str]) -> String {
    parts.sort_unstable();
    let mut h = Sha1::new();
    for p in parts.iter() {
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The plain signature of a handshake or push.
pub fn signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce])
}

/// The signature of an encrypted body (`msg_signature`, or a reply's `MsgSignature`).
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce, encrypt])
}

/// Compares a signature a peer sent with the expected one, in constant time and ignoring the
/// case of its hex digits.
pub fn matches(sent: &str, expected: &str) -> bool {
    let sent = sent.trim().to_ascii_lowercase();
    sent.len() == expected.len() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_handshake_vector() {
        // wechat-protocol.md §1.2, verified against wechatpy.
        assert_eq!(
            signature("TOKEN", "1409659813", "1372623149"),
            "b4e90d80666cee617841c90ae18ca347a828226d"
        );
    }

    #[test]
    fn the_secure_mode_vectors() {
        // wechat-protocol.md §1.8, built with wechatpy 1.8.18.
        let encrypt = "QCTqNwyPmqRu4xuyqVsjaxyqmPHuoV9ZnZj0YNXxx54mBjFosaLTokY3fCm6/Md90XlJ/pkI1agILRGnKKqVDqq/ML1Q8NgvJFY5bdfIarmfnIn+BW+kqtOZVwBbRatLO/1Mw1bY8w+3I3m/jhlSizFM/f5+B8Pi0ZZXu6ZF+oDELm2G6vo97wD7OPHMB6LdF4YxKFpIkV0WhjWTRQ6PF3hKIIxEXpKqT8Vm9SemTHhUYbXhWMdNukEZksgLpXril0AV+KByBOZPicb5xdyV/ggI38BYebrPvYX7qPmQFdlMcpfOymf6QP7//jzS/wwOb2+zcaYDGwsuhNDCn5hOG/qh+JJytQ7CnBxB5shFuOhRkgp/WTxutHYQTVUM/qhzgtlWA6X+JKMm3HePHv15+aUtz4Hm22Vgf2rwqE8qSFc=";
        assert_eq!(
            msg_signature("mytoken", "1700000000", "1234567890", encrypt),
            "9665ae33b2c3f64739ae1ae2cf168a620a32e7d3"
        );
        assert_eq!(
            signature("mytoken", "1700000000", "1234567890"),
            "a83bce5abb8fc5f2aa375d62f9673c3d64059cc2"
        );
    }

    #[test]
    fn comparison_ignores_hex_case_and_refuses_anything_else() {
        let s = signature("t", "1", "2");
        assert!(matches(&s, &s));
        assert!(matches(&s.to_uppercase(), &s));
        assert!(!matches(&s[1..], &s));
        assert!(!matches("", &s));
        assert!(!matches(&signature("t", "1", "3"), &s));
    }
}
