//! How the CLI shows an answer. Scripts ask for the server's JSON as is (`--json` or
//! `PLAZA_JSON=1`), so that what they parse never depends on how a person likes to read it; a
//! person gets lists as aligned tables and single records as `key: value` lines.
//!
//! The renderer is generic on purpose: every command's answer is plain JSON, and a command only
//! names which of a list's fields are worth a column ([`View`]). Fields a view names but the
//! answer lacks are dropped, so a server that adds or renames fields still renders.

use serde_json::{Map, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The widest a table cell may be, in terminal columns; longer values end in `…`.
pub const MAX_CELL: usize = 40;

/// How many fields the fallback picks when a view names none that the answer has.
const AUTO_COLUMNS: usize = 6;

/// How a command's answer is shown to a person.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct View {
    /// The field of the answer that holds the list (`{"followers":[…],"next_cursor":…}`); none
    /// when the answer is the list itself or a single record. An answer that is an array is a
    /// list whatever this says.
    pub list: Option<&'static str>,
    /// The columns, in order.
    pub columns: &'static [&'static str],
}

impl View {
    /// A list in field `list` with these columns.
    pub const fn list(list: &'static str, columns: &'static [&'static str]) -> View {
        View {
            list: Some(list),
            columns,
        }
    }

    /// An answer that is an array, with these columns.
    #[cfg(test)]
    pub const fn array(columns: &'static [&'static str]) -> View {
        View {
            list: None,
            columns,
        }
    }
}

/// The answer as text for a person (without a final newline).
pub fn human(v: &Value, view: &View) -> String {
    match v {
        Value::Array(rows) => table(rows, view.columns),
        Value::Object(map) => match list_field(map, view) {
            Some(field) => wrapped_list(map, field, view.columns),
            None if is_lists(map) => sections(map),
            None => record(map),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The field holding the list: the one the view names, else the only array of the answer when it
/// is a non-empty array of records beside scalars (a record that merely has a list field, like an
/// installation's grants, is not a list).
fn list_field<'a>(map: &'a Map<String, Value>, view: &View) -> Option<&'a str> {
    if let Some(name) = view.list
        && let Some((key, Value::Array(_))) = map.get_key_value(name)
    {
        return Some(key);
    }
    let mut lists = map.iter().filter(|(_, v)| match v {
        Value::Array(a) => !a.is_empty() && a.iter().all(Value::is_object),
        _ => false,
    });
    let arrays = map.values().filter(|v| v.is_array()).count();
    let records = map.values().filter(|v| v.is_object()).count();
    match (lists.next(), lists.next()) {
        (Some((key, _)), None) if arrays == 1 && records == 0 => Some(key),
        _ => None,
    }
}

/// Whether an answer is several lists of records side by side (`wechat outbound`'s pending and
/// failed messages): no nested records, every array one of records, and at least one not empty.
fn is_lists(map: &Map<String, Value>) -> bool {
    let records = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_object));
    !map.values().any(Value::is_object)
        && map.values().filter(|v| v.is_array()).all(records)
        && map
            .values()
            .any(|v| records(v) && v.as_array().is_some_and(|a| !a.is_empty()))
}

/// Several lists: the other fields as lines, then each list as a titled, indented table.
fn sections(map: &Map<String, Value>) -> String {
    let rest: Map<String, Value> = map
        .iter()
        .filter(|(_, v)| !v.is_array())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut parts = Vec::new();
    if !rest.is_empty() {
        parts.push(record(&rest));
    }
    for (field, rows) in map.iter().filter_map(|(k, v)| Some((k, v.as_array()?))) {
        let table = table(rows, &[]);
        let indented: Vec<String> = table.lines().map(|l| format!("  {l}")).collect();
        parts.push(format!("{field}:\n{}", indented.join("\n")));
    }
    parts.join("\n")
}

/// A list inside an answer: its table, the answer's other fields as lines, and how to get the
/// next page.
fn wrapped_list(map: &Map<String, Value>, field: &str, columns: &[&str]) -> String {
    let rows = map[field].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut out = table(rows, columns);
    let rest: Map<String, Value> = map
        .iter()
        .filter(|(k, v)| k.as_str() != field && k.as_str() != "next_cursor" && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !rest.is_empty() {
        out.push('\n');
        out.push_str(&record(&rest));
    }
    if let Some(cursor) = map.get("next_cursor").and_then(Value::as_str) {
        out.push_str(&format!("\nnext page: --cursor {cursor}"));
    }
    out
}

/// An array of records as an aligned table with a header line; `(none)` when empty.
pub fn table(rows: &[Value], columns: &[&str]) -> String {
    if rows.is_empty() {
        return "(none)".into();
    }
    if !rows.iter().all(Value::is_object) {
        // Not records (a list of names, say): one value a line.
        return rows
            .iter()
            .map(|v| one_line(&shown("", v)))
            .collect::<Vec<_>>()
            .join("\n");
    }
    let columns = chosen_columns(rows, columns);
    let header: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| truncate(&one_line(&shown(c, &row[c.as_str()])), MAX_CELL))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            std::iter::once(&header[i])
                .chain(body.iter().map(|r| &r[i]))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    std::iter::once(&header)
        .chain(body.iter())
        .map(|line| {
            let mut text = String::new();
            for (i, value) in line.iter().enumerate() {
                text.push_str(value);
                if i + 1 < line.len() {
                    text.push_str(&" ".repeat(widths[i] - value.width() + 2));
                }
            }
            text.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The view's columns that some row has; when none, the first few scalar fields of the first
/// row (or its first fields, when it has no scalars).
fn chosen_columns(rows: &[Value], wanted: &[&str]) -> Vec<String> {
    let has = |c: &str| rows.iter().any(|r| r.get(c).is_some());
    let chosen: Vec<String> = wanted
        .iter()
        .filter(|c| has(c))
        .map(|c| c.to_string())
        .collect();
    if !chosen.is_empty() {
        return chosen;
    }
    let first = rows.first().and_then(Value::as_object);
    let fields = || first.into_iter().flat_map(|m| m.iter());
    let scalars: Vec<String> = fields()
        .filter(|(_, v)| !v.is_array() && !v.is_object())
        .map(|(k, _)| k.clone())
        .take(AUTO_COLUMNS)
        .collect();
    if scalars.is_empty() {
        fields()
            .map(|(k, _)| k.clone())
            .take(AUTO_COLUMNS)
            .collect()
    } else {
        scalars
    }
}

/// A value as a person reads it: strings as they are, `-` for nothing, nested values as compact
/// JSON, and the times the API gives in ms since the epoch (fields named `at` or `…_at`) as UTC.
fn shown(field: &str, v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) if field == "at" || field.ends_with("_at") => n
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
            .unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    }
}

/// `text` on one line: control characters (newlines, tabs) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` cut to at most `max` terminal columns, ending in `…` when cut (wide CJK characters
/// count two).
pub fn truncate(text: &str, max: usize) -> String {
    if text.width() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// A single record as `key: value` lines, the values aligned; nested values as compact JSON.
pub fn record(map: &Map<String, Value>) -> String {
    if map.is_empty() {
        return "(none)".into();
    }
    let width = map.keys().map(|k| k.width()).max().unwrap_or(0);
    map.iter()
        .map(|(k, v)| format!("{k}:{} {}", " ".repeat(width - k.width()), shown(k, v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A bar for bytes sent (`plaza media upload`), drawn on stderr.
pub fn bytes_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// A bar for a broadcast's recipients handled out of its total, drawn on stderr.
pub fn count_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_list_becomes_a_table_with_the_views_columns_in_order() {
        let v = json!([
            { "id": "cafe", "name": "Cafe", "kind": "service", "secret": "x" },
            { "id": "b", "name": "Bakery Number Two", "kind": "subscription" },
        ]);
        let out = human(&v, &View::array(&["id", "kind", "name", "missing"]));
        assert_eq!(
            out,
            "ID    KIND          NAME\n\
             cafe  service       Cafe\n\
             b     subscription  Bakery Number Two"
        );
    }

    #[test]
    fn without_columns_the_first_scalar_fields_are_shown() {
        let v = json!([{ "a": 1, "nested": { "x": 1 }, "b": true, "c": null }]);
        assert_eq!(human(&v, &View::default()), "A  B     C\n1  true  -");
    }

    #[test]
    fn long_values_are_cut_and_nested_values_are_compact_json() {
        let long = "x".repeat(100);
        let v = json!([{ "id": long, "tags": ["a", "b"] }]);
        let out = human(&v, &View::array(&["id", "tags"]));
        let row = out.lines().nth(1).unwrap();
        assert!(
            row.starts_with(&format!("{}…", "x".repeat(MAX_CELL - 1))),
            "{row}"
        );
        assert!(row.ends_with(r#"["a","b"]"#), "{row}");
        assert_eq!(truncate("line", 4), "line");
        assert_eq!(truncate("a\nb", 10), "a\nb");
        assert_eq!(one_line("a\nb"), "a b");
    }

    #[test]
    fn cjk_text_is_aligned_and_cut_by_display_width() {
        let v = json!([
            { "name": "咖啡馆", "n": 1 },
            { "name": "ab", "n": 2 },
        ]);
        let out = human(&v, &View::array(&["name", "n"]));
        let lines: Vec<&str> = out.lines().collect();
        // 咖啡馆 is six columns wide: the second column starts at the same column on every line.
        assert_eq!(lines[1], "咖啡馆  1");
        assert_eq!(lines[2], "ab      2");
        assert_eq!(lines[0], "NAME    N");
        // Cut to 5 columns: two wide characters (4) and the ellipsis (1).
        assert_eq!(truncate("咖啡馆咖啡馆", 5), "咖啡…");
        assert_eq!(truncate("咖啡馆咖啡馆", 6), "咖啡…");
    }

    #[test]
    fn times_in_ms_read_as_utc() {
        let v = json!([{ "id": "a", "created_at": 1_700_000_000_000u64, "count": 1_700_000_000_000u64 }]);
        let out = human(&v, &View::array(&["id", "created_at", "count"]));
        assert!(
            out.ends_with("a   2023-11-14 22:13:20Z  1700000000000"),
            "{out}"
        );
        assert_eq!(
            human(&json!({ "at": 0 }), &View::default()),
            "at: 1970-01-01 00:00:00Z"
        );
    }

    #[test]
    fn an_empty_list_says_none() {
        assert_eq!(human(&json!([]), &View::default()), "(none)");
        let v = json!({ "followers": [], "next_cursor": null });
        assert_eq!(human(&v, &View::list("followers", &["openid"])), "(none)");
    }

    #[test]
    fn a_paged_list_names_its_next_cursor_and_its_other_fields() {
        let v = json!({
            "followers": [{ "openid": "o1", "nickname": "A" }],
            "next_cursor": "o1",
            "total": 7,
        });
        let out = human(&v, &View::list("followers", &["openid"]));
        assert_eq!(out, "OPENID\no1\ntotal: 7\nnext page: --cursor o1");
        // Found without a view too: the only field that is a list of records.
        let out = human(&v, &View::default());
        assert!(out.starts_with("NICKNAME  OPENID\nA         o1"), "{out}");
    }

    #[test]
    fn several_lists_side_by_side_become_titled_tables() {
        let v = json!({
            "failed": [],
            "pending": [{ "id": "m1", "tries": 2 }],
            "total": 1,
        });
        assert_eq!(
            human(&v, &View::default()),
            "total: 1\nfailed:\n  (none)\npending:\n  ID  TRIES\n  m1  2"
        );
        // Empty lists alone are just a record.
        let v = json!({ "failed": [], "pending": [] });
        assert_eq!(human(&v, &View::default()), "failed:  []\npending: []");
    }

    #[test]
    fn a_single_record_is_key_value_lines() {
        // Keys in alphabetical order, which is also the order they were written in (whether or
        // not serde_json keeps insertion order).
        let v = json!({ "at": null, "grants": ["storage"], "id": "cafe", "verified": false });
        assert_eq!(
            human(&v, &View::default()),
            "at:       -\ngrants:   [\"storage\"]\nid:       cafe\nverified: false"
        );
        assert_eq!(human(&json!("plain"), &View::default()), "plain");
        assert_eq!(human(&json!({}), &View::default()), "(none)");
    }
}
