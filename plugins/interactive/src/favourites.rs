//! Favourites (收藏): articles a follower saved, one entry per (follower, article).

use plaza_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::text::{check_id, check_text};

/// Most favourites one follower keeps.
pub const MAX_PER_FOLLOWER: usize = 500;

/// A saved article, stored under `favourites/{openid}/{article}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Favourite {
    /// The article's id (as the editor names it).
    pub article: String,
    pub title: String,
    /// Where the article is read: an `http(s)` URL.
    pub url: String,
    #[serde(default)]
    pub saved_at: u64,
}

impl Favourite {
    /// Checks what a follower (or a page) sent: an id, a title, an `http(s)` URL.
    pub fn check(&self) -> Result<()> {
        check_id("article", &self.article)?;
        check_text("title", &self.title, 1, 200)?;
        let lower = self.url.trim().to_ascii_lowercase();
        let web = lower.starts_with("https://") || lower.starts_with("http://");
        if !web
            || self.url.len() > 2048
            || self
                .url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "url must be an http(s) URL of at most 2048 bytes without spaces",
            ));
        }
        Ok(())
    }

    /// The fields of a form or query string.
    pub fn from_pairs(pairs: &[(String, String)], now: u64) -> Favourite {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        Favourite {
            article: get("article"),
            title: get("title"),
            url: get("url"),
            saved_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fav(url: &str) -> Favourite {
        Favourite {
            article: "a1".into(),
            title: "标题".into(),
            url: url.into(),
            saved_at: 0,
        }
    }

    #[test]
    fn only_web_urls_are_kept() {
        assert!(fav("https://example.com/a?b=1").check().is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "https://a b",
            "/relative",
            "",
        ] {
            assert!(fav(bad).check().is_err(), "{bad}");
        }
        let mut f = fav("https://e.com");
        f.article = "a/b".into();
        assert!(f.check().is_err());
    }

    #[test]
    fn form_pairs_are_read() {
        let pairs = vec![
            ("article".to_string(), " a9 ".to_string()),
            ("title".to_string(), "T".to_string()),
            ("url".to_string(), "https://e.com/9".to_string()),
        ];
        let f = Favourite::from_pairs(&pairs, 7);
        assert_eq!((f.article.as_str(), f.saved_at), ("a9", 7));
        assert!(f.check().is_ok());
    }
}
