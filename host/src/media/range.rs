//! HTTP `Range` requests on a blob (RFC 9110 §14): one byte range, as players seeking in audio
//! and video ask for. Several ranges at once are answered with the whole blob, which the RFC
//! allows and every player handles.

use std::ops::Range;

/// What to answer a request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable `Range` header (absent, another unit, several ranges, malformed): 200 and
    /// the whole blob.
    Full,
    /// 206 with these bytes (`start..end`, end exclusive, never empty).
    Partial(Range<u64>),
    /// 416: the range lies outside the blob (or is empty).
    Unsatisfiable,
}

/// Interprets a `Range` header value for a blob of `size` bytes (`size > 0`).
pub fn parse(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(value) = header else {
        return RangeRequest::Full;
    };
    let Some((unit, spec)) = value.trim().split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // More digits than a u64 holds is still a (huge) number: past any blob's end.
        Some(s.parse().unwrap_or(u64::MAX))
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-n`: the last n bytes.
        (true, None, Some(n)) => {
            if n == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(size.saturating_sub(n)..size)
            }
        }
        // `a-`: from a to the end.
        (false, Some(a), None) if last.trim().is_empty() => {
            if a >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(a..size)
            }
        }
        // `a-b`: inclusive; a last position past the end means the end.
        (false, Some(a), Some(b)) => {
            if a > b || a >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(a..b.saturating_add(1).min(size))
            }
        }
        _ => RangeRequest::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::*;
    use super::*;

    #[test]
    fn single_ranges_first_middle_last_and_suffix() {
        assert_eq!(parse(None, 100), Full);
        assert_eq!(parse(Some("bytes=0-0"), 100), Partial(0..1));
        assert_eq!(parse(Some("bytes=0-99"), 100), Partial(0..100));
        assert_eq!(parse(Some("bytes=10-19"), 100), Partial(10..20));
        assert_eq!(parse(Some("bytes=90-"), 100), Partial(90..100));
        assert_eq!(parse(Some("bytes=99-"), 100), Partial(99..100));
        assert_eq!(parse(Some("bytes=-10"), 100), Partial(90..100));
        assert_eq!(parse(Some("bytes=-1000"), 100), Partial(0..100));
        assert_eq!(parse(Some("bytes=50-1000"), 100), Partial(50..100));
        assert_eq!(parse(Some(" Bytes = 5 - 6 "), 100), Partial(5..7));
    }

    #[test]
    fn ranges_outside_the_blob_are_unsatisfiable() {
        assert_eq!(parse(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse(Some("bytes=100-200"), 100), Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse(Some("bytes=20-10"), 100), Unsatisfiable);
        assert_eq!(
            parse(Some("bytes=99999999999999999999999-"), 100),
            Unsatisfiable
        );
    }

    #[test]
    fn what_is_not_one_byte_range_gets_the_whole_blob() {
        for h in [
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=abc",
            "bytes=a-b",
            "bytes=-",
            "bytes=--1",
            "0-1",
            "",
        ] {
            assert_eq!(parse(Some(h), 100), Full, "{h}");
        }
    }
}
