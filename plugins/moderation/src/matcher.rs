//! Sensitive-word lists and the Aho–Corasick matcher over [normalised](crate::normalize) text.
//!
//! Every list has an [`Action`]. All words of all lists go into one automaton (a word in several
//! lists counts for each), matched with overlapping semantics so that no word hides inside
//! another (`法轮` and `法轮功` both hit in `法轮功`). When words of several lists match, the
//! strongest action wins: block > hold > mask.

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

use crate::normalize::{normalize, normalize_word};

/// What happens to a message that contains a word of a list. Ordered by strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Deliver it with every matched word (as originally typed) replaced by `***`.
    Mask,
    /// Do not deliver it now; keep it in the review queue until an operator approves or rejects.
    Hold,
    /// Do not deliver it.
    Block,
}

impl Action {
    /// The lower-case name used in configuration, events and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Mask => "mask",
            Action::Hold => "hold",
            Action::Block => "block",
        }
    }
}

/// One named list of words with its action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordList {
    pub name: String,
    pub action: Action,
    pub words: Vec<String>,
}

/// What the lists found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The strongest action of the matched lists.
    pub action: Action,
    /// Names of the matched lists, in list order.
    pub lists: Vec<String>,
    /// The matched words as listed (not as typed), in order of first appearance, once each.
    pub words: Vec<String>,
    /// Byte ranges of the original text to mask: each match widened to its original
    /// characters, overlapping ranges merged, in order.
    pub ranges: Vec<(usize, usize)>,
}

/// Replacement for a masked word.
pub const MASK: &str = "***";

/// A word as searched for, and the lists that hold it.
struct Pattern {
    /// The word as the operator listed it (the first spelling seen), for reports.
    listed: String,
    lists: Vec<usize>,
}

/// The lists compiled into one automaton. Build once per call, use for every text of it.
pub struct Matcher {
    automaton: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
    lists: Vec<(String, Action)>,
}

impl Matcher {
    /// Compiles `lists`. Words that normalise to nothing (only spaces or punctuation) are
    /// ignored: they would match everywhere. An error only if the automaton cannot be built
    /// (far beyond any sane list size).
    pub fn new(lists: &[WordList]) -> Result<Self, String> {
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut normalized: Vec<String> = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        for (list_index, list) in lists.iter().enumerate() {
            for word in &list.words {
                let key = normalize_word(word);
                if key.is_empty() {
                    continue;
                }
                let id = *index.entry(key.clone()).or_insert_with(|| {
                    normalized.push(key);
                    patterns.push(Pattern {
                        listed: word.trim().to_string(),
                        lists: Vec::new(),
                    });
                    patterns.len() - 1
                });
                if !patterns[id].lists.contains(&list_index) {
                    patterns[id].lists.push(list_index);
                }
            }
        }
        let automaton = if normalized.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&normalized)
                    .map_err(|e| format!("cannot compile the word lists: {e}"))?,
            )
        };
        Ok(Matcher {
            automaton,
            patterns,
            lists: lists.iter().map(|l| (l.name.clone(), l.action)).collect(),
        })
    }

    /// Number of distinct (normalised) words.
    pub fn word_count(&self) -> usize {
        self.patterns.len()
    }

    /// What the lists find in `text`; `None` when no word matches.
    pub fn scan(&self, text: &str) -> Option<Finding> {
        let automaton = self.automaton.as_ref()?;
        let normalized = normalize(text);
        let mut matched_lists = vec![false; self.lists.len()];
        let mut seen_patterns = vec![false; self.patterns.len()];
        let mut words = Vec::new();
        let mut ranges = Vec::new();
        for m in automaton.find_overlapping_iter(&normalized.text) {
            let pattern = &self.patterns[m.pattern().as_usize()];
            for &list in &pattern.lists {
                matched_lists[list] = true;
            }
            if !seen_patterns[m.pattern().as_usize()] {
                seen_patterns[m.pattern().as_usize()] = true;
                words.push(pattern.listed.clone());
            }
            if let Some(range) = normalized.original(m.start(), m.end()) {
                ranges.push(range);
            }
        }
        if words.is_empty() {
            return None;
        }
        let action = self
            .lists
            .iter()
            .zip(&matched_lists)
            .filter(|(_, hit)| **hit)
            .map(|((_, action), _)| *action)
            .max()?;
        let lists = self
            .lists
            .iter()
            .zip(&matched_lists)
            .filter(|(_, hit)| **hit)
            .map(|((name, _), _)| name.clone())
            .collect();
        Some(Finding {
            action,
            lists,
            words,
            ranges: merge(ranges),
        })
    }
}

/// Sorted, overlapping ranges merged.
fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// `text` with every range (sorted, disjoint, on character boundaries, as in
/// [`Finding::ranges`]) replaced by [`MASK`].
pub fn mask(text: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(start, end) in ranges {
        if start < at || end > text.len() || start > end {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, action: Action, words: &[&str]) -> WordList {
        WordList {
            name: name.into(),
            action,
            words: words.iter().map(|w| w.to_string()).collect(),
        }
    }

    fn masked(lists: &[WordList], text: &str) -> String {
        let m = Matcher::new(lists).unwrap();
        match m.scan(text) {
            Some(f) => mask(text, &f.ranges),
            None => text.to_string(),
        }
    }

    #[test]
    fn evasions_are_matched_and_masked_as_typed() {
        let lists = [list("ads", Action::Mask, &["abc", "法轮"])];
        assert_eq!(masked(&lists, "buy ＡＢＣ now"), "buy *** now");
        assert_eq!(masked(&lists, "buy a b-c now"), "buy *** now");
        assert_eq!(masked(&lists, "buy AbC now"), "buy *** now");
        assert_eq!(masked(&lists, "说 法 轮 了"), "说 *** 了");
        assert_eq!(masked(&lists, "nothing here"), "nothing here");
    }

    #[test]
    fn words_at_the_start_and_end_and_repeated() {
        let lists = [list("l", Action::Mask, &["spam"])];
        assert_eq!(masked(&lists, "spam"), "***");
        assert_eq!(masked(&lists, "Spam, eggs and SPAM"), "***, eggs and ***");
        assert_eq!(masked(&lists, "spamspam"), "******");
    }

    #[test]
    fn overlapping_words_are_all_found_and_masked_once() {
        let lists = [list("l", Action::Mask, &["法轮", "法轮功", "轮功"])];
        let m = Matcher::new(&lists).unwrap();
        let f = m.scan("x法轮功y").unwrap();
        assert_eq!(f.words, ["法轮", "法轮功", "轮功"]);
        assert_eq!(mask("x法轮功y", &f.ranges), "x***y");
        let f = m.scan("abc").map(|f| f.words);
        assert_eq!(f, None);
    }

    #[test]
    fn the_strongest_action_wins_and_lists_are_named() {
        let lists = [
            list("mild", Action::Mask, &["darn"]),
            list("review", Action::Hold, &["refund"]),
            list("banned", Action::Block, &["gun"]),
        ];
        let m = Matcher::new(&lists).unwrap();
        let f = m.scan("darn refund").unwrap();
        assert_eq!(f.action, Action::Hold);
        assert_eq!(f.lists, ["mild", "review"]);
        let f = m.scan("GUN darn refund").unwrap();
        assert_eq!(f.action, Action::Block);
        assert_eq!(f.lists, ["mild", "review", "banned"]);
        assert_eq!(m.scan("darn").unwrap().action, Action::Mask);
    }

    #[test]
    fn a_word_in_two_lists_counts_for_both() {
        let lists = [
            list("a", Action::Mask, &["x1"]),
            list("b", Action::Block, &["X 1"]),
        ];
        let m = Matcher::new(&lists).unwrap();
        assert_eq!(m.word_count(), 1);
        let f = m.scan("x1").unwrap();
        assert_eq!(f.action, Action::Block);
        assert_eq!(f.lists, ["a", "b"]);
    }

    #[test]
    fn empty_lists_and_empty_words_match_nothing() {
        let m = Matcher::new(&[]).unwrap();
        assert!(m.scan("anything").is_none());
        let m = Matcher::new(&[list("l", Action::Block, &["", "  ", "!!"])]).unwrap();
        assert_eq!(m.word_count(), 0);
        assert!(m.scan("anything !! at all").is_none());
        let m = Matcher::new(&[list("l", Action::Block, &["word"])]).unwrap();
        assert!(m.scan("").is_none());
    }

    #[test]
    fn mask_ignores_ranges_it_cannot_apply() {
        assert_eq!(mask("abc", &[(5, 9)]), "abc");
        assert_eq!(mask("abcdef", &[(0, 2), (1, 3), (4, 6)]), "***cd***");
        assert_eq!(merge(vec![(4, 6), (0, 2), (1, 3)]), [(0, 3), (4, 6)]);
    }

    #[test]
    fn actions_order_by_strength() {
        assert!(Action::Block > Action::Hold && Action::Hold > Action::Mask);
        let parsed: Action = serde_json::from_str("\"hold\"").unwrap();
        assert_eq!(parsed, Action::Hold);
    }
}
