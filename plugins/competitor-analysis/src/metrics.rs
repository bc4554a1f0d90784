//! Peer articles' metrics: parsing uploads (CSV or JSON) and validating every row, with one error
//! per bad field so an operator can fix a whole file at once. Pure: no host calls.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `YYYY-MM-DD`.
pub const DATE_FORMAT: &str = "%Y-%m-%d";

/// One validated row: an article of a peer on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRow {
    pub peer: String,
    pub date: NaiveDate,
    pub title: String,
    pub reads: u64,
    pub likes: u64,
    pub shares: u64,
    pub url: Option<String>,
}

/// A stored article (in a peer's month blob), with its title's keywords computed once at upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub date: String,
    pub title: String,
    pub reads: u64,
    pub likes: u64,
    pub shares: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
}

impl Article {
    /// Whether `self` and `other` are the same article: the same url when both have one,
    /// otherwise the same date and title.
    pub fn same_as(&self, other: &Article) -> bool {
        match (&self.url, &other.url) {
            (Some(a), Some(b)) => a == b,
            _ => self.date == other.date && self.title == other.title,
        }
    }
}

/// Why one row was refused. `row` is 1-based among the records (the first record after a CSV's
/// header row, or the first element of a JSON array, is row 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub message: String,
}

impl RowError {
    fn new(row: usize, field: &str, message: impl Into<String>) -> Self {
        RowError {
            row,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One record before validation: field name (lower case) → value (CSV gives strings).
pub type RawRow = BTreeMap<String, Value>;

/// The upload's records, or why the body as a whole is unreadable (a single error, row 0).
pub fn parse_body(body: &[u8], content_type: Option<&str>) -> Result<Vec<RawRow>, Vec<RowError>> {
    let text = std::str::from_utf8(body)
        .map_err(|e| vec![RowError::new(0, "", format!("the body is not UTF-8: {e}"))])?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let json = match content_type {
        Some(ct) if ct.contains("json") => true,
        Some(ct) if ct.contains("csv") || ct.starts_with("text/") => false,
        _ => matches!(text.trim_start().chars().next(), Some('[' | '{')),
    };
    if json {
        parse_json(text)
    } else {
        parse_csv(text)
    }
}

/// A JSON array of objects, or an object with an `articles` array (a provider's answer).
pub fn parse_json(text: &str) -> Result<Vec<RawRow>, Vec<RowError>> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| vec![RowError::new(0, "", format!("the body is not JSON: {e}"))])?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("articles") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(vec![RowError::new(
                    0,
                    "",
                    "expected a JSON array of articles or {\"articles\": [...]}",
                )]);
            }
        },
        _ => {
            return Err(vec![RowError::new(
                0,
                "",
                "expected a JSON array of articles",
            )]);
        }
    };
    let mut rows = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::Object(o) => rows.push(
                o.into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
            ),
            _ => errors.push(RowError::new(i + 1, "", "each article is a JSON object")),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// CSV with a header row naming the columns (any order; `peer`, `date`, `title`, `reads`,
/// `likes`, `shares`, `url`); fields with commas or quotes are quoted the usual way.
pub fn parse_csv(text: &str) -> Result<Vec<RawRow>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| vec![RowError::new(0, "", format!("the header row: {e}"))])?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(vec![RowError::new(
            0,
            "",
            "the CSV has no header row (date,title,reads,likes,shares[,url][,peer])",
        )]);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        match record {
            Ok(record) => rows.push(
                headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
                    .collect(),
            ),
            Err(e) => errors.push(RowError::new(i + 1, "", format!("unreadable record: {e}"))),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Validates every record: the peer (from the record, or `path_peer` for an upload to one peer's
/// route) must be known, `date` a `YYYY-MM-DD` date, `title` non-empty (at most 200 characters),
/// `reads`/`likes`/`shares` non-negative integers, `url` (optional) an http(s) URL. Every error of
/// every row is reported; no row is returned unless all are valid.
pub fn validate(
    rows: &[RawRow],
    path_peer: Option<&str>,
    known_peer: &dyn Fn(&str) -> bool,
) -> Result<Vec<MetricRow>, Vec<RowError>> {
    let mut out = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (i, raw) in rows.iter().enumerate() {
        let row = i + 1;
        let before = errors.len();
        let peer = match (text(raw, "peer"), path_peer) {
            (Some(p), Some(path)) if !p.is_empty() && p != path => {
                errors.push(RowError::new(
                    row,
                    "peer",
                    format!("{p:?} differs from the peer of the route ({path:?})"),
                ));
                String::new()
            }
            (_, Some(path)) => path.to_string(),
            (Some(p), None) if !p.is_empty() => {
                if !known_peer(&p) {
                    errors.push(RowError::new(
                        row,
                        "peer",
                        format!("no peer account {p:?}: register it first (POST /api/peers)"),
                    ));
                }
                p
            }
            _ => {
                errors.push(RowError::new(row, "peer", "missing"));
                String::new()
            }
        };
        let date = match text(raw, "date") {
            None => {
                errors.push(RowError::new(row, "date", "missing"));
                None
            }
            Some(d) => match NaiveDate::parse_from_str(&d, DATE_FORMAT) {
                Ok(date) if d.len() == 10 => Some(date),
                _ => {
                    errors.push(RowError::new(
                        row,
                        "date",
                        format!("{d:?} is not a date (YYYY-MM-DD)"),
                    ));
                    None
                }
            },
        };
        let title = text(raw, "title").unwrap_or_default();
        if title.is_empty() {
            errors.push(RowError::new(row, "title", "missing or empty"));
        } else if title.chars().count() > 200 {
            errors.push(RowError::new(row, "title", "longer than 200 characters"));
        }
        let mut counts = [0u64; 3];
        for (slot, field) in counts.iter_mut().zip(["reads", "likes", "shares"]) {
            match count(raw.get(field)) {
                Ok(n) => *slot = n,
                Err(message) => errors.push(RowError::new(row, field, message)),
            }
        }
        let url = text(raw, "url").filter(|u| !u.is_empty());
        if let Some(u) = &url
            && (!(u.starts_with("http://") || u.starts_with("https://")) || u.len() > 2000)
        {
            errors.push(RowError::new(
                row,
                "url",
                "not an http(s) URL of at most 2000 characters",
            ));
        }
        if errors.len() == before
            && let Some(date) = date
        {
            out.push(MetricRow {
                peer,
                date,
                title,
                reads: counts[0],
                likes: counts[1],
                shares: counts[2],
                url,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A field as trimmed text (numbers are written out); `None` when absent or null.
fn text(raw: &RawRow, field: &str) -> Option<String> {
    match raw.get(field)? {
        Value::Null => None,
        Value::String(s) => Some(s.trim().to_string()),
        other => Some(other.to_string()),
    }
}

fn count(value: Option<&Value>) -> Result<u64, String> {
    match value {
        None | Some(Value::Null) => Err("missing".into()),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a non-negative integer")),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Err("missing".into());
            }
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{s:?} is not a non-negative integer"));
            }
            s.parse().map_err(|_| format!("{s:?} is too large"))
        }
        Some(other) => Err(format!("{other} is not a non-negative integer")),
    }
}

/// Merges `incoming` into a month's `articles`: an article already there (same url, or same date
/// and title) is replaced, not counted twice. Returns how many were replaced. Keeps date order.
pub fn merge(articles: &mut Vec<Article>, incoming: Vec<Article>) -> usize {
    let mut replaced = 0;
    for a in incoming {
        if let Some(existing) = articles.iter_mut().find(|e| e.same_as(&a)) {
            *existing = a;
            replaced += 1;
        } else {
            articles.push(a);
        }
    }
    articles.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.title.cmp(&b.title)));
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(p: &str) -> bool {
        p == "rival" || p == "other"
    }

    #[test]
    fn csv_with_bom_quotes_and_chinese_titles() {
        let csv = "\u{feff}date,title,reads,likes,shares,url\n\
2026-01-05,\"春节，年货指南\",1200,30,12,https://mp.example/a\n\
2026-01-06,Plain title,5,0,0,\n";
        let rows = parse_body(csv.as_bytes(), Some("text/csv")).unwrap();
        let rows = validate(&rows, Some("rival"), &known).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].title, "春节，年货指南");
        assert_eq!(rows[0].reads, 1200);
        assert_eq!(rows[0].url.as_deref(), Some("https://mp.example/a"));
        assert_eq!(rows[1].url, None);
        assert_eq!(rows[1].peer, "rival");
    }

    #[test]
    fn every_bad_field_of_every_row_is_reported() {
        let csv = "peer,date,title,reads,likes,shares\n\
rival,2026-13-01,ok,1,2,3\n\
ghost,2026-01-01,,-1,x,\n\
other,2026-01-02,fine,1,1,1\n";
        let rows = parse_body(csv.as_bytes(), None).unwrap();
        let errors = validate(&rows, None, &known).unwrap_err();
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (1, "date"),
                (2, "peer"),
                (2, "title"),
                (2, "reads"),
                (2, "likes"),
                (2, "shares")
            ]
        );
        assert!(errors[3].message.contains("non-negative"), "{errors:?}");
    }

    #[test]
    fn json_numbers_and_strings_and_provider_shape() {
        let body =
            br#"{"articles":[{"date":"2026-01-05","title":"A","reads":3,"likes":"2","shares":0}]}"#;
        let rows = parse_body(body, Some("application/json")).unwrap();
        let rows = validate(&rows, Some("rival"), &known).unwrap();
        assert_eq!((rows[0].reads, rows[0].likes), (3, 2));
        let bad = parse_body(
            br#"[{"date":"2026-01-05","title":"A","reads":1.5,"likes":-2,"shares":0}, 7]"#,
            None,
        )
        .unwrap_err();
        assert_eq!(bad[0].row, 2);
        let rows = parse_body(
            br#"[{"date":"2026-01-05","title":"A","reads":1.5,"likes":-2,"shares":0}]"#,
            None,
        )
        .unwrap();
        let errors = validate(&rows, Some("rival"), &known).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(parse_body(b"[oops", Some("application/json")).is_err());
    }

    #[test]
    fn merge_replaces_the_same_article() {
        let a = |date: &str, title: &str, reads, url: Option<&str>| Article {
            date: date.into(),
            title: title.into(),
            reads,
            likes: 0,
            shares: 0,
            url: url.map(str::to_string),
            keywords: vec![],
        };
        let mut month = vec![
            a("2026-01-05", "A", 1, None),
            a("2026-01-06", "B", 1, Some("u")),
        ];
        let replaced = merge(
            &mut month,
            vec![
                a("2026-01-05", "A", 10, None),
                a("2026-01-06", "B renamed", 20, Some("u")),
                a("2026-01-04", "C", 5, None),
            ],
        );
        assert_eq!(replaced, 2);
        assert_eq!(month.len(), 3);
        assert_eq!(month[0].title, "C");
        assert_eq!(month.iter().map(|a| a.reads).sum::<u64>(), 35);
    }
}
