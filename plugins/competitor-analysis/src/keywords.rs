//! Keywords of article titles: Chinese word segmentation with `jieba-rs` over a trimmed copy of
//! its dictionary (`data/dict.txt`: the words of jieba's dictionary with frequency ≥ 50, 52 000
//! words, 600 KB — the full 5 MB one costs too much to load in every fresh instance; unknown words
//! are still found by jieba's HMM). Titles are segmented once, when their metrics are stored, so a
//! report only counts stored keywords.

use std::collections::{BTreeMap, BTreeSet};

use jieba_rs::Jieba;

const DICT: &str = include_str!("../data/dict.txt");

/// Words too common to say anything about a title.
const STOP_WORDS: &[&str] = &[
    "我们",
    "你们",
    "他们",
    "她们",
    "它们",
    "这个",
    "那个",
    "这些",
    "那些",
    "什么",
    "怎么",
    "怎样",
    "如何",
    "为什么",
    "一个",
    "一些",
    "没有",
    "可以",
    "已经",
    "还是",
    "就是",
    "不是",
    "自己",
    "以及",
    "因为",
    "所以",
    "但是",
    "如果",
    "还有",
    "的话",
    "之后",
    "之前",
    "时候",
    "这样",
    "那样",
    "关于",
    "进行",
    "通过",
    "而且",
    "或者",
    "一起",
    "一下",
    "不要",
    "知道",
    "真的",
    "大家",
    "今天",
    "明天",
    "昨天",
    "现在",
    "the",
    "and",
    "for",
    "with",
    "you",
    "your",
    "are",
    "this",
    "that",
    "from",
    "how",
    "what",
    "why",
    "who",
    "its",
    "was",
    "were",
    "our",
    "has",
    "have",
    "will",
    "can",
    "not",
    "all",
    "new",
    "about",
    "into",
    "more",
];

/// A loaded segmenter (one per call that segments).
pub struct Segmenter {
    jieba: Jieba,
}

impl Segmenter {
    pub fn load() -> Result<Segmenter, String> {
        let jieba = Jieba::with_dict(&mut DICT.as_bytes())
            .map_err(|e| format!("the keyword dictionary does not load: {e}"))?;
        Ok(Segmenter { jieba })
    }

    /// The distinct keywords of `title`, in order of appearance: words of at least two
    /// characters (Latin words: three) that are not stop words, not numbers and not punctuation;
    /// Latin words lower case.
    pub fn keywords(&self, title: &str) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for token in self.jieba.cut(title, true) {
            let word = token.word.trim().to_lowercase();
            let min = if word.is_ascii() { 3 } else { 2 };
            if word.chars().count() < min
                || !word.chars().any(char::is_alphabetic)
                || STOP_WORDS.contains(&word.as_str())
            {
                continue;
            }
            if seen.insert(word.clone()) {
                out.push(word);
            }
        }
        out
    }
}

/// The `top` most frequent keywords over articles' keyword lists, most frequent first (ties by
/// word).
pub fn top<'a>(lists: impl Iterator<Item = &'a [String]>, top: usize) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for list in lists {
        for word in list {
            *counts.entry(word.as_str()).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(w, n)| (w.to_string(), n))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(top);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_titles_are_segmented_without_stop_words_or_punctuation() {
        let s = Segmenter::load().unwrap();
        let words = s.keywords("春节年货购物指南：我们推荐的10款零食！");
        assert!(words.contains(&"春节".to_string()), "{words:?}");
        assert!(words.contains(&"年货".to_string()), "{words:?}");
        assert!(words.contains(&"零食".to_string()), "{words:?}");
        assert!(
            !words
                .iter()
                .any(|w| w == "我们" || w == "10" || w == "：" || w == "的"),
            "{words:?}"
        );
        let latin = s.keywords("How to brew Coffee at home, coffee again");
        assert_eq!(
            latin.iter().filter(|w| *w == "coffee").count(),
            1,
            "{latin:?}"
        );
        assert!(!latin.contains(&"to".to_string()));
    }

    #[test]
    fn top_counts_articles_per_keyword() {
        let lists = [
            vec!["咖啡".to_string(), "早餐".to_string()],
            vec!["咖啡".to_string()],
            vec!["早餐".to_string(), "咖啡".to_string(), "面包".to_string()],
        ];
        let t = top(lists.iter().map(Vec::as_slice), 2);
        assert_eq!(t, vec![("咖啡".to_string(), 3), ("早餐".to_string(), 2)]);
    }
}
