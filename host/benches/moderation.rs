//! Moderation throughput: the bundled `moderation` plugin's `review-outbound` on a 100 KB article
//! against a 10,000-word per-account list (a fresh instance per call, as the review chain runs
//! it: configuration parse, automaton build, normalise, match, verdict), and, in the same run, the
//! same normalise + Aho–Corasick work done natively in the host by the same crate compiled for
//! the host (`moderation` as an rlib) — once including the automaton build (the plugin's per-call
//! work) and once with the automaton built in advance (the matching alone).
//!
//! Run: `cargo bench -p plaza-host --bench moderation`. Results are recorded in BENCHMARKS.md.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use moderation::content::reason;
use moderation::matcher::{Action, Matcher, WordList};
use plaza_host::accounts::AccountKind;
use plaza_host::harness;
use plaza_host::plugin_api::{self as api, ReviewVerdict};
use plaza_host::runtime::{Invocation, Outcome};
use plaza_host::{Platform, PlatformOptions};
use serde_json::json;

/// Words in the account's list.
const WORDS: usize = 10_000;
/// Size of the article, in bytes.
const ARTICLE_BYTES: usize = 100 * 1024;

/// A small deterministic generator (no dependency, same data every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// One of 2,000 common CJK ideographs.
    fn hanzi(&mut self) -> char {
        char::from_u32(0x4E00 + self.below(2000) as u32).unwrap_or('中')
    }
}

/// 10,000 distinct words: three to five ideographs, or (one in five) six to ten latin letters.
fn words(rng: &mut Lcg) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    while seen.len() < WORDS {
        let word: String = if rng.below(5) == 0 {
            (0..6 + rng.below(5))
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect()
        } else {
            (0..3 + rng.below(3)).map(|_| rng.hanzi()).collect()
        };
        seen.insert(word);
    }
    let mut words: Vec<String> = seen.into_iter().collect();
    words.sort();
    words
}

/// A ~100 KB article of ideographs, latin words, spaces and punctuation, with 50 list words
/// written the way evaders write them (spaces or punctuation inserted, full-width, upper case).
fn article(rng: &mut Lcg, words: &[String]) -> String {
    let mut text = String::with_capacity(ARTICLE_BYTES + 64);
    let mut planted = 0;
    while text.len() < ARTICLE_BYTES {
        match rng.below(40) {
            0 if planted < 50 => {
                planted += 1;
                let word = &words[rng.below(words.len() as u64) as usize];
                for (i, c) in word.chars().enumerate() {
                    if i > 0 {
                        text.push([' ', '-', '，', '.'][rng.below(4) as usize]);
                    }
                    if c.is_ascii_lowercase() {
                        // Full-width upper case: 'a' → 'Ａ'.
                        text.push(char::from_u32(c as u32 - 0x20 + 0xFEE0).unwrap_or(c));
                    } else {
                        text.push(c);
                    }
                }
            }
            1..=3 => text.push('，'),
            4..=6 => text.push(' '),
            7 => text.push_str("Plaza 2026 "),
            _ => text.push(rng.hanzi()),
        }
    }
    text
}

fn setup(rt: &tokio::runtime::Runtime, words: &[String]) -> (tempfile::TempDir, Arc<Platform>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = json!({
        "platform_list": false,
        "flag_inbound": false,
        "lists": [{ "name": "bench", "action": "block", "words": words }]
    });
    let platform = rt
        .block_on(async {
            let platform = harness::platform(PlatformOptions::new(dir.path().join("data"))).await?;
            harness::account(&platform, "bench", AccountKind::Service, None).await?;
            harness::install_bundled(&platform, "bench", "moderation", Some(config)).await?;
            Ok::<_, plaza_host::error::PlazaError>(platform)
        })
        .expect("platform with moderation installed");
    (dir, platform)
}

fn review(c: &mut Criterion) {
    let mut rng = Lcg(2026);
    let words = words(&mut rng);
    let text = article(&mut rng, &words);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let (_dir, platform) = setup(&rt, &words);
    let active = platform
        .plugins
        .find_active("bench", "moderation")
        .expect("active");
    let lists = [WordList {
        name: "bench".into(),
        action: Action::Block,
        words: words.clone(),
    }];

    // Both sides must agree before anything is measured. The list blocks: a masked copy of a
    // 100 KB article would not fit the host's 64 KB bound on what a plugin returns (the review
    // chain then fails closed), so the verdict measured is a block naming the matches.
    let native = {
        let matcher = Matcher::new(&lists).expect("matcher");
        reason(&matcher.scan(&text).expect("planted words are found"))
    };
    let in_plugin =
        match rt.block_on(
            platform.call_plugin(&active, Some("o-bench".into()), false, |ctx| {
                Invocation::Review(
                    ctx,
                    api::Content::Text {
                        content: text.clone(),
                    },
                )
            }),
        ) {
            Ok(Outcome::Verdict(ReviewVerdict::Block(reason))) => reason,
            other => panic!("unexpected verdict {other:?}"),
        };
    assert_eq!(in_plugin, native, "plugin and native verdicts differ");
    eprintln!(
        "article {} bytes, {} words in the list: {native}",
        text.len(),
        words.len()
    );

    let mut group = c.benchmark_group("moderation_100kb_10k_words");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("plugin_review_outbound_fresh_instance", |b| {
        b.iter(|| {
            let content = api::Content::Text {
                content: text.clone(),
            };
            match rt.block_on(
                platform.call_plugin(&active, Some("o-bench".into()), false, |ctx| {
                    Invocation::Review(ctx, content)
                }),
            ) {
                Ok(Outcome::Verdict(ReviewVerdict::Block(_))) => {}
                other => panic!("unexpected verdict {other:?}"),
            }
        })
    });
    group.bench_function("native_build_and_match", |b| {
        b.iter(|| {
            let matcher = Matcher::new(&lists).expect("matcher");
            std::hint::black_box(reason(&matcher.scan(&text).expect("found")));
        })
    });
    let matcher = Matcher::new(&lists).expect("matcher");
    group.bench_function("native_match_prebuilt_automaton", |b| {
        b.iter(|| {
            std::hint::black_box(reason(&matcher.scan(&text).expect("found")));
        })
    });
    group.bench_function("native_build_automaton_only", |b| {
        b.iter(|| std::hint::black_box(Matcher::new(&lists).expect("matcher")))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = review
}
criterion_main!(benches);
