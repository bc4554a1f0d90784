//! Small shared checks and conversions: ids, bounded text, the account's calendar day.

use chrono::NaiveDate;
use chrono_tz::Tz;
use plaza_sdk::{Error, Result};

/// Longest id an operator may give a vote, questionnaire or challenge.
pub const MAX_ID: usize = 40;

/// `id` is 1-40 ASCII letters, digits, `-` or `_`: it appears in URLs and storage keys.
pub fn check_id(what: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} {id:?} must be 1-{MAX_ID} ASCII letters, digits, '-' or '_'"
        )))
    }
}

/// `text` (trimmed) is `min` to `max` characters long.
pub fn check_text(what: &str, text: &str, min: usize, max: usize) -> Result<()> {
    let n = text.trim().chars().count();
    if n < min || n > max {
        return Err(Error::invalid(if min > 0 && n == 0 {
            format!("{what} must not be empty")
        } else {
            format!("{what} must be {min} to {max} characters, not {n}")
        }));
    }
    Ok(())
}

/// Milliseconds since the epoch from the instance's wall clock (WASI), for HTTP requests, which
/// carry no time of their own; messages use the time the host stamped on them.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub use plaza_sdk::time::{local_date, timezone};

/// `at_ms` as `YYYY-MM-DD HH:MM:SS` in `tz` (for exports and pages).
pub fn local_time(at_ms: u64, tz: Tz) -> String {
    plaza_sdk::time::local_time(at_ms, tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A `YYYY-MM-DD` date.
pub fn parse_date(what: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Error::invalid(format!("{what} {text:?} is not a date (YYYY-MM-DD)")))
}

/// An openid shortened for public pages (leaderboards): first and last two characters.
pub fn mask_openid(openid: &str) -> String {
    let chars: Vec<char> = openid.chars().collect();
    if chars.len() <= 4 {
        return format!("{}…", chars.first().copied().unwrap_or('?'));
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_text_are_bounded() {
        assert!(check_id("id", "spring-2026_a").is_ok());
        for bad in ["", "a b", "a/b", "投票", &"x".repeat(41)] {
            assert!(check_id("id", bad).is_err(), "{bad}");
        }
        assert!(check_text("title", "  ", 1, 10).is_err());
        assert!(check_text("title", "你好", 1, 2).is_ok());
        assert!(check_text("title", "你好!", 1, 2).is_err());
    }

    #[test]
    fn local_dates_follow_the_timezone() {
        // 2026-03-01 17:00 UTC is already 2 March in Shanghai (UTC+8).
        let at = 1_772_384_400_000;
        assert_eq!(local_date(at, chrono_tz::UTC).to_string(), "2026-03-01");
        assert_eq!(
            local_date(at, timezone("Asia/Shanghai")).to_string(),
            "2026-03-02"
        );
        assert_eq!(timezone("Nowhere/Else"), chrono_tz::Asia::Shanghai);
        assert_eq!(local_time(at, chrono_tz::UTC), "2026-03-01 17:00:00");
    }

    #[test]
    fn openids_are_masked() {
        assert_eq!(mask_openid("o-alice"), "o-…ce");
        assert_eq!(mask_openid("abc"), "a…");
    }
}
