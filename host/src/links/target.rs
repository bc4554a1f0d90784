//! Where a follower link points: the path a plugin asks for, the URL built from it, whether a
//! request falls within the path a token was issued for, and the token's place in a query.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::accounts::refuse_control_chars;
use crate::error::{PlazaError, Result};

/// The query parameter that carries a follower token.
pub const TOKEN_PARAM: &str = "plaza_token";
/// The request header that may carry a follower token instead (for pages that fetch data).
pub const TOKEN_HEADER: &str = "x-plaza-follower-token";
/// Longest path (with its query and fragment) a link may be issued for.
pub const MAX_PATH_BYTES: usize = 1024;

/// Characters escaped in a path (the WHATWG path percent-encode set): `%` is kept, so a path the
/// plugin already escaped stays as it is.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');
/// Characters escaped in a query or fragment (the WHATWG query set, plus `#` in a query).
const QUERY: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>');

/// A path a plugin asked a link for, split and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPath {
    /// The path as it goes into the URL (escaped where it must be).
    pub url_path: String,
    /// The path decoded, as the plugin will see it in `http-request.path`: what the token names.
    pub prefix: String,
    /// The query without `?`, escaped, if any.
    pub query: Option<String>,
    /// The fragment without `#`, escaped, if any.
    pub fragment: Option<String>,
}

impl LinkPath {
    /// Checks `path` (`/…`, at most [`MAX_PATH_BYTES`], no control or bidi characters, no `.`
    /// or `..` segments, no token of its own) and splits it into path, query and fragment.
    pub fn parse(path: &str) -> Result<LinkPath> {
        if !path.starts_with('/') {
            return Err(PlazaError::invalid(format!(
                "a follower link path must start with '/': {path:?}"
            )));
        }
        if path.len() > MAX_PATH_BYTES {
            return Err(PlazaError::invalid(format!(
                "a follower link path is {} bytes; the limit is {MAX_PATH_BYTES}",
                path.len()
            )));
        }
        refuse_control_chars("follower link path", path, &[])?;
        let (rest, fragment) = match path.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (path, None),
        };
        let (raw_path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let prefix = percent_decode_str(raw_path)
            .decode_utf8()
            .map_err(|_| PlazaError::invalid("a follower link path must decode to UTF-8"))?
            .into_owned();
        refuse_control_chars("follower link path (decoded)", &prefix, &[])?;
        if has_dot_segment(&prefix) {
            return Err(PlazaError::invalid(format!(
                "a follower link path may not contain '.' or '..' segments: {path:?}"
            )));
        }
        if let Some(q) = query
            && take_token(q)?.1.is_some()
        {
            return Err(PlazaError::invalid(format!(
                "a follower link path may not carry its own {TOKEN_PARAM}"
            )));
        }
        Ok(LinkPath {
            url_path: utf8_percent_encode(raw_path, PATH).to_string(),
            prefix,
            query: query
                .filter(|q| !q.is_empty())
                .map(|q| utf8_percent_encode(q, QUERY).to_string()),
            fragment: fragment.map(|f| utf8_percent_encode(f, QUERY).to_string()),
        })
    }

    /// `{base}{path}?{query&}plaza_token={token}{#fragment}`.
    pub fn url(&self, base: &str, token: &str) -> String {
        let mut url = format!("{base}{}?", self.url_path);
        if let Some(q) = &self.query {
            url.push_str(q);
            url.push('&');
        }
        url.push_str(TOKEN_PARAM);
        url.push('=');
        url.push_str(token);
        if let Some(f) = &self.fragment {
            url.push('#');
            url.push_str(f);
        }
        url
    }
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

/// Whether a request for `path` (decoded, as the plugin sees it) falls within `prefix`: the same
/// path, or below it at a segment boundary (`/member` covers `/member/card`, not `/members`).
/// A request path with `.` or `..` segments never does: the plugin might resolve them out of
/// the prefix.
pub fn within(prefix: &str, path: &str) -> bool {
    if has_dot_segment(path) {
        return false;
    }
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| prefix.ends_with('/') || rest.starts_with('/'))
}

/// Splits the follower token out of a raw query string: the query without it (other parameters
/// byte for byte as they came; the whole query untouched when it has none) and the token, if
/// one was there. More than one token is `unauthorized`: which one was meant is not for the
/// host to guess.
pub fn take_token(query: &str) -> Result<(String, Option<String>)> {
    let mut kept = Vec::new();
    let mut token = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode_str(name).decode_utf8_lossy() != TOKEN_PARAM {
            kept.push(pair);
            continue;
        }
        if token.is_some() {
            return Err(PlazaError::Unauthorized(format!(
                "the request carries more than one {TOKEN_PARAM}"
            )));
        }
        token = Some(percent_decode_str(value).decode_utf8_lossy().into_owned());
    }
    if token.is_none() {
        // Untouched, empty pairs and all.
        return Ok((query.to_string(), None));
    }
    let kept: Vec<&str> = kept.into_iter().filter(|p| !p.is_empty()).collect();
    Ok((kept.join("&"), token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_split_and_escaped() {
        let p = LinkPath::parse("/shop/item 1?size=L&q=a b#top").unwrap();
        assert_eq!(p.url_path, "/shop/item%201");
        assert_eq!(p.prefix, "/shop/item 1");
        assert_eq!(p.query.as_deref(), Some("size=L&q=a%20b"));
        assert_eq!(p.fragment.as_deref(), Some("top"));
        assert_eq!(
            p.url("http://h/p/a/b", "TOK"),
            "http://h/p/a/b/shop/item%201?size=L&q=a%20b&plaza_token=TOK#top"
        );
        let plain = LinkPath::parse("/card").unwrap();
        assert_eq!(
            plain.url("http://h/p/a/b", "T"),
            "http://h/p/a/b/card?plaza_token=T"
        );
        // Already escaped stays escaped once; non-ASCII is escaped.
        let esc = LinkPath::parse("/a%20b/会员").unwrap();
        assert_eq!(esc.url_path, "/a%20b/%E4%BC%9A%E5%91%98");
        assert_eq!(esc.prefix, "/a b/会员");
        // An empty query is dropped.
        assert_eq!(LinkPath::parse("/x?").unwrap().query, None);
    }

    #[test]
    fn bad_paths_are_invalid() {
        for bad in [
            "",
            "card",
            "/a\nb",
            "/a\u{202E}b",
            "/a%0Ab",
            "/a/../admin",
            "/./a",
            "/a%2E%2E/b/..",
            "/a%FF",
            "/x?plaza_token=forged",
        ] {
            let e = LinkPath::parse(bad).expect_err(bad);
            assert_eq!(e.code(), "invalid", "{bad:?}: {e}");
        }
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        assert_eq!(LinkPath::parse(&long).unwrap_err().code(), "invalid");
        assert!(LinkPath::parse(&long[..MAX_PATH_BYTES]).is_ok());
    }

    #[test]
    fn within_respects_segment_boundaries() {
        assert!(within("/member", "/member"));
        assert!(within("/member", "/member/card"));
        assert!(!within("/member", "/members"));
        assert!(!within("/member", "/"));
        assert!(!within("/member", "/member/../admin"));
        assert!(within("/member/", "/member/x"));
        assert!(!within("/member/", "/member"));
        assert!(within("/", "/anything/at/all"));
        assert!(!within("/", "/a/./b"));
    }

    #[test]
    fn the_token_is_taken_out_of_the_query_and_the_rest_kept_as_sent() {
        assert_eq!(
            take_token("a=1&plaza_token=T&b=x%20y").unwrap(),
            ("a=1&b=x%20y".to_string(), Some("T".to_string()))
        );
        assert_eq!(
            take_token("plaza_token=T").unwrap(),
            (String::new(), Some("T".to_string()))
        );
        assert_eq!(
            take_token("plaza%5Ftoken=T&c").unwrap(),
            ("c".to_string(), Some("T".to_string()))
        );
        assert_eq!(take_token("a=1&&b").unwrap(), ("a=1&&b".to_string(), None));
        assert_eq!(take_token("").unwrap(), (String::new(), None));
        let e = take_token("plaza_token=A&plaza_token=B").unwrap_err();
        assert_eq!(e.code(), "unauthorized");
    }
}
