//! Small helpers: time, random ids, key validation.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use plaza_sdk::Error;

/// Milliseconds since the epoch (the host's clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// 64 unpredictable bits. `RandomState` keys come from the platform's random source (WASI
/// `random` inside the host) and every instance is fresh, so SipHash under them is random.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(now_ms());
    h.finish()
}

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// `len` characters of an unambiguous upper-case alphabet (no 0/O, 1/I): order ids and coupon
/// codes read out at a counter.
pub fn random_code(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut bits = random_u64();
    let mut left = 12;
    for _ in 0..len {
        if left == 0 {
            bits = random_u64();
            left = 12;
        }
        out.push(ALPHABET[(bits & 31) as usize] as char);
        bits >>= 5;
        left -= 1;
    }
    out
}

/// Checks an operator-chosen id used in keys and URLs: 1–64 of `[A-Za-z0-9_-]`.
pub fn check_id(what: &str, id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::invalid(format!(
            "{what} {id:?} must be 1 to 64 letters, digits, _ or -"
        )));
    }
    Ok(())
}

/// `¥12.34` for cents.
pub fn yuan(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}¥{}.{:02}", c / 100, c % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_alphabet_and_differ() {
        let a = random_code(12);
        let b = random_code(12);
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(a, b);
    }

    #[test]
    fn ids_and_money() {
        assert!(check_id("product", "mug-1").is_ok());
        assert!(check_id("product", "a/b").is_err());
        assert!(check_id("product", "").is_err());
        assert_eq!(yuan(1234), "¥12.34");
        assert_eq!(yuan(5), "¥0.05");
    }
}
