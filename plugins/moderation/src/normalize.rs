//! Text normalisation for sensitive-word matching, with a map back to the original text.
//!
//! People dodge word lists by writing `ＡＢＣ` (full-width), `A b-C` (case, inserted spaces and
//! punctuation) or `法 轮`. Matching therefore runs over a *normalised* copy of the text in which
//!
//! * full-width ASCII forms (`U+FF01`–`U+FF5E`) are folded to their half-width characters and the
//!   ideographic space (`U+3000`) to a space — the width fold NFKC would do for these characters,
//!   without carrying Unicode's composition tables into every plugin instance;
//! * letters are lower-cased (full Unicode lower-casing, so `Ä` matches `ä`);
//! * everything that is not a letter or a digit (`char::is_alphanumeric`: whitespace,
//!   punctuation, symbols, emoji, control characters) is dropped.
//!
//! Chinese, Japanese and Korean characters are letters and stay. Every normalised character
//! remembers the byte range of the original character it came from ([`Normalized::original`]),
//! so a match can be masked in the *original* text — including the spaces and punctuation that
//! were inserted inside the word.

/// One character of the normalised text and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Origin {
    /// Byte offset of this character in [`Normalized::text`].
    normalized: usize,
    /// Byte range of the original character it came from.
    start: usize,
    end: usize,
}

/// A normalised text and the map back to the original.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    /// The normalised text (see the [module docs](self)).
    pub text: String,
    origins: Vec<Origin>,
}

impl Normalized {
    /// The byte range of the original text that the normalised byte range `start..end` (a match,
    /// on character boundaries) came from: from the start of the original character of its first
    /// character to the end of the original character of its last one, so everything typed in
    /// between (spaces, punctuation) is included. `None` for an empty or out-of-range span.
    pub fn original(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if start >= end {
            return None;
        }
        let first = self
            .origins
            .binary_search_by_key(&start, |o| o.normalized)
            .ok()?;
        // The last normalised character that starts before `end`.
        let last = match self.origins.binary_search_by_key(&end, |o| o.normalized) {
            Ok(i) | Err(i) => i.checked_sub(1)?,
        };
        let (first, last) = (self.origins.get(first)?, self.origins.get(last)?);
        Some((first.start, last.end.max(first.end)))
    }
}

/// Full-width ASCII and the ideographic space folded to half-width; other characters unchanged.
pub fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Normalises `original`, keeping the map back (see the [module docs](self)).
pub fn normalize(original: &str) -> Normalized {
    let mut text = String::with_capacity(original.len());
    let mut origins = Vec::with_capacity(original.len());
    for (start, c) in original.char_indices() {
        let end = start + c.len_utf8();
        let folded = fold_width(c);
        if !folded.is_alphanumeric() {
            continue;
        }
        for lower in folded.to_lowercase() {
            if !lower.is_alphanumeric() {
                continue;
            }
            origins.push(Origin {
                normalized: text.len(),
                start,
                end,
            });
            text.push(lower);
        }
    }
    Normalized { text, origins }
}

/// A list word in the form it is searched for (the normalised text alone).
pub fn normalize_word(word: &str) -> String {
    normalize(word).text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_case_spaces_and_punctuation() {
        assert_eq!(normalize_word("ＡＢＣ"), "abc");
        assert_eq!(normalize_word("a b-c"), "abc");
        assert_eq!(normalize_word("A.B_C!"), "abc");
        assert_eq!(normalize_word("ＡｂＣ　１２"), "abc12");
        assert_eq!(normalize_word("法 轮"), "法轮");
        assert_eq!(normalize_word("法，轮！"), "法轮");
        assert_eq!(normalize_word("ÄÖ"), "äö");
        assert_eq!(normalize_word("  "), "");
        assert_eq!(normalize_word("★☆✓😀"), "");
        assert_eq!(normalize_word(""), "");
    }

    #[test]
    fn maps_matches_back_to_the_original_characters() {
        let original = "xx Ａ b-C yy";
        let n = normalize(original);
        assert_eq!(n.text, "xxabcyy");
        let at = n.text.find("abc").unwrap();
        let (s, e) = n.original(at, at + 3).unwrap();
        assert_eq!(&original[s..e], "Ａ b-C");
    }

    #[test]
    fn maps_multi_byte_and_chinese_text() {
        let original = "他说：法 轮，功";
        let n = normalize(original);
        assert_eq!(n.text, "他说法轮功");
        let at = n.text.find("法轮").unwrap();
        let (s, e) = n.original(at, at + "法轮".len()).unwrap();
        assert_eq!(&original[s..e], "法 轮");
    }

    #[test]
    fn a_character_that_lowercases_to_two_maps_to_itself() {
        // U+0130 (İ) lower-cases to "i" + combining dot (not alphanumeric, dropped).
        let original = "İx";
        let n = normalize(original);
        assert_eq!(n.text, "ix");
        assert_eq!(n.original(0, 1), Some((0, 2)));
        assert_eq!(n.original(1, 2), Some((2, 3)));
    }

    #[test]
    fn empty_and_bad_spans_have_no_original() {
        let n = normalize("abc");
        assert_eq!(n.original(1, 1), None);
        assert_eq!(n.original(2, 1), None);
        assert_eq!(n.original(7, 9), None);
        assert_eq!(normalize("").original(0, 1), None);
    }
}
