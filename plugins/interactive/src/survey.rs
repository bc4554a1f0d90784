//! Questionnaires (问卷): typed fields, required fields, validation per field, CSV export.
//!
//! Pure logic only; storage lives in [`crate::routes`].

use std::collections::BTreeMap;

use plaza_sdk::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::text::{check_id, check_text, parse_date};

/// Most fields a questionnaire may have.
pub const MAX_FIELDS: usize = 50;
/// Default longest answer to a `text` field, in characters.
pub const TEXT_MAX: u32 = 500;
/// Default longest answer to a `textarea` field, in characters.
pub const TEXTAREA_MAX: u32 = 5000;

/// What a field asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text (`max_length`, default 500).
    Text,
    /// Several lines of text (`max_length`, default 5000).
    Textarea,
    /// A number, between `min` and `max` when given.
    Number,
    /// Exactly one of `options`.
    Single,
    /// Any of `options` (between `min` and `max` of them when given).
    Multiple,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A phone number: digits, optionally `+`, spaces and `-`; 6 to 20 digits.
    Phone,
    /// An e-mail address.
    Email,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The answer's key (form field name, JSON key, CSV column).
    pub id: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// The choices of `single` and `multiple` fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// `number`: smallest value; `multiple`: fewest choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// `number`: largest value; `multiple`: most choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// `text`/`textarea`: longest answer in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// A hint shown under the label.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help: String,
}

/// A questionnaire as stored under `surveys/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub fields: Vec<Field>,
    #[serde(default)]
    pub deadline: Option<u64>,
    #[serde(default)]
    pub closed: bool,
    pub created_at: u64,
}

/// The body of `POST /admin/surveys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSurvey {
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub fields: Vec<Field>,
    #[serde(default)]
    pub deadline: Option<u64>,
}

/// One follower's answers, stored under `responses/{survey}/{openid}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub openid: String,
    pub submitted_at: u64,
    /// Field id → answer: a string, a number, or a list of strings (`multiple`). Unanswered
    /// optional fields are absent.
    pub answers: BTreeMap<String, Value>,
}

/// Why one field's answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl NewSurvey {
    /// The questionnaire this body describes, checked; `id` is used when the body names none.
    pub fn into_survey(self, id: String, now: u64) -> Result<Survey> {
        let id = match self.id {
            Some(given) => {
                check_id("id", &given)?;
                given
            }
            None => id,
        };
        check_text("title", &self.title, 1, 200)?;
        check_text("description", &self.description, 0, 2000)?;
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            return Err(Error::invalid(format!(
                "a questionnaire needs 1 to {MAX_FIELDS} fields, not {}",
                self.fields.len()
            )));
        }
        for (i, field) in self.fields.iter().enumerate() {
            check_field(i, field)?;
            if self.fields[..i].iter().any(|f| f.id == field.id) {
                return Err(Error::invalid(format!(
                    "fields[{i}]: id {:?} appears twice",
                    field.id
                )));
            }
        }
        if let Some(deadline) = self.deadline
            && deadline <= now
        {
            return Err(Error::invalid(format!(
                "deadline {deadline} is not in the future (now is {now}, ms since the epoch)"
            )));
        }
        Ok(Survey {
            id,
            title: self.title.trim().to_string(),
            description: self.description.trim().to_string(),
            fields: self.fields,
            deadline: self.deadline,
            closed: false,
            created_at: now,
        })
    }
}

fn check_field(i: usize, field: &Field) -> Result<()> {
    check_id(&format!("fields[{i}].id"), &field.id)?;
    check_text(&format!("fields[{i}].label"), &field.label, 1, 200)?;
    let choice = matches!(field.kind, FieldKind::Single | FieldKind::Multiple);
    if choice {
        if !(2..=50).contains(&field.options.len()) {
            return Err(Error::invalid(format!(
                "fields[{i}] ({:?}) needs 2 to 50 options",
                field.id
            )));
        }
        for (j, o) in field.options.iter().enumerate() {
            check_text(&format!("fields[{i}].options[{j}]"), o, 1, 200)?;
            if field.options[..j].contains(o) {
                return Err(Error::invalid(format!(
                    "fields[{i}].options[{j}] {o:?} appears twice"
                )));
            }
        }
    } else if !field.options.is_empty() {
        return Err(Error::invalid(format!(
            "fields[{i}] ({:?}): options only apply to single and multiple fields",
            field.id
        )));
    }
    let bounded = matches!(field.kind, FieldKind::Number | FieldKind::Multiple);
    if !bounded && (field.min.is_some() || field.max.is_some()) {
        return Err(Error::invalid(format!(
            "fields[{i}] ({:?}): min and max only apply to number and multiple fields",
            field.id
        )));
    }
    if let (Some(min), Some(max)) = (field.min, field.max)
        && min > max
    {
        return Err(Error::invalid(format!(
            "fields[{i}] ({:?}): min {min} is above max {max}",
            field.id
        )));
    }
    if field.max_length.is_some() && !matches!(field.kind, FieldKind::Text | FieldKind::Textarea) {
        return Err(Error::invalid(format!(
            "fields[{i}] ({:?}): max_length only applies to text and textarea fields",
            field.id
        )));
    }
    Ok(())
}

impl Survey {
    /// Whether answers are accepted at `now`; the refusal says why.
    pub fn check_open(&self, now: u64) -> Result<()> {
        if self.closed {
            return Err(Error::conflict("this questionnaire is closed / 问卷已关闭"));
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return Err(Error::conflict(
                "this questionnaire has ended (the deadline has passed) / 问卷已截止",
            ));
        }
        Ok(())
    }

    /// The typed answers for `raw` (field id → submitted strings; empty strings count as no
    /// answer), or every field's problem. Names that are no field of this questionnaire are
    /// refused too, so a typo in a JSON key is not silently dropped.
    pub fn validate(
        &self,
        raw: &BTreeMap<String, Vec<String>>,
    ) -> std::result::Result<BTreeMap<String, Value>, Vec<FieldError>> {
        let mut answers = BTreeMap::new();
        let mut errors = Vec::new();
        for name in raw.keys() {
            if !self.fields.iter().any(|f| &f.id == name) {
                errors.push(FieldError {
                    field: name.clone(),
                    message: "no such field in this questionnaire".into(),
                });
            }
        }
        for field in &self.fields {
            let values: Vec<&str> = raw
                .get(&field.id)
                .map(|v| {
                    v.iter()
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if values.is_empty() {
                if field.required {
                    errors.push(FieldError {
                        field: field.id.clone(),
                        message: "required / 必填".into(),
                    });
                }
                continue;
            }
            match answer(field, &values) {
                Ok(value) => {
                    answers.insert(field.id.clone(), value);
                }
                Err(message) => errors.push(FieldError {
                    field: field.id.clone(),
                    message,
                }),
            }
        }
        if errors.is_empty() {
            Ok(answers)
        } else {
            Err(errors)
        }
    }
}

/// One field's typed answer from its non-empty submitted values, or why not.
fn answer(field: &Field, values: &[&str]) -> std::result::Result<Value, String> {
    if field.kind != FieldKind::Multiple && values.len() > 1 {
        return Err("give one answer / 只能填写一个答案".into());
    }
    let one = values[0];
    match field.kind {
        FieldKind::Text | FieldKind::Textarea => {
            let default = if field.kind == FieldKind::Text {
                TEXT_MAX
            } else {
                TEXTAREA_MAX
            };
            let max = field.max_length.unwrap_or(default) as usize;
            let n = one.chars().count();
            if n > max {
                return Err(format!(
                    "at most {max} characters, not {n} / 最多 {max} 个字"
                ));
            }
            Ok(Value::String(one.to_string()))
        }
        FieldKind::Number => {
            let n: f64 = one
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| "enter a number / 请输入数字".to_string())?;
            if let Some(min) = field.min
                && n < min
            {
                return Err(format!("at least {min} / 不能小于 {min}"));
            }
            if let Some(max) = field.max
                && n > max
            {
                return Err(format!("at most {max} / 不能大于 {max}"));
            }
            Ok(number_value(n))
        }
        FieldKind::Single => {
            if field.options.iter().any(|o| o == one) {
                Ok(Value::String(one.to_string()))
            } else {
                Err("choose one of the options / 请选择一个选项".into())
            }
        }
        FieldKind::Multiple => {
            let mut chosen: Vec<String> = Vec::new();
            for v in values {
                if !field.options.iter().any(|o| o == v) {
                    return Err(format!("{v:?} is not one of the options / 选项无效"));
                }
                if chosen.iter().any(|c| c == v) {
                    return Err(format!("{v:?} is chosen twice / 重复选择"));
                }
                chosen.push(v.to_string());
            }
            let n = chosen.len() as f64;
            if let Some(min) = field.min
                && n < min
            {
                return Err(format!("choose at least {min} / 至少选择 {min} 项"));
            }
            if let Some(max) = field.max
                && n > max
            {
                return Err(format!("choose at most {max} / 最多选择 {max} 项"));
            }
            // Stored in the order of the options, whatever order they were sent in.
            chosen.sort_by_key(|c| field.options.iter().position(|o| o == c));
            Ok(Value::Array(
                chosen.into_iter().map(Value::String).collect(),
            ))
        }
        FieldKind::Date => parse_date("date", one)
            .map(|d| Value::String(d.to_string()))
            .map_err(|_| "enter a date as YYYY-MM-DD / 日期格式 YYYY-MM-DD".into()),
        FieldKind::Phone => {
            let ok_chars = one
                .char_indices()
                .all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (i == 0 && c == '+'));
            let digits = one.chars().filter(char::is_ascii_digit).count();
            if ok_chars && (6..=20).contains(&digits) {
                Ok(Value::String(one.to_string()))
            } else {
                Err("enter a phone number / 请输入有效的电话号码".into())
            }
        }
        FieldKind::Email => {
            if is_email(one) {
                Ok(Value::String(one.to_string()))
            } else {
                Err("enter an e-mail address / 请输入有效的邮箱".into())
            }
        }
    }
}

/// A whole number as a JSON integer (so `3` stays `3`, not `3.0`), anything else as a float.
fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// A pragmatic address check: one `@`, something before it, a dotted domain after it, no
/// spaces, at most 254 bytes. (Whether it receives mail only a sent message can tell.)
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && !text.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// A JSON body's answers (`{"answers": {"field": "text" | 12 | ["a","b"] | null}}`) as the
/// strings a form would have sent.
pub fn raw_from_json(
    answers: &serde_json::Map<String, Value>,
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut raw = BTreeMap::new();
    for (name, value) in answers {
        let values = match value {
            Value::Null => Vec::new(),
            Value::String(s) => vec![s.clone()],
            Value::Number(n) => vec![n.to_string()],
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(Error::invalid(format!(
                        "answers.{name}: list items must be strings or numbers"
                    ))),
                })
                .collect::<Result<_>>()?,
            _ => {
                return Err(Error::invalid(format!(
                    "answers.{name} must be a string, a number, a list or null"
                )));
            }
        };
        raw.insert(name.clone(), values);
    }
    Ok(raw)
}

/// A form's pairs grouped by name (checkboxes repeat their name).
pub fn raw_from_form(pairs: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut raw: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in pairs {
        raw.entry(name.clone()).or_default().push(value.clone());
    }
    raw
}

/// The CSV export: a header (`openid`, `submitted_at`, then each field's label), one row per
/// response; lists joined with `; `. Quoting (commas, quotes, line breaks) is the `csv` crate's.
pub fn to_csv(
    survey: &Survey,
    responses: &[Response],
    format_time: impl Fn(u64) -> String,
) -> Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::internal(format!("cannot write the CSV export: {e}"));
    let mut header = vec!["openid".to_string(), "submitted_at".to_string()];
    header.extend(survey.fields.iter().map(|f| f.label.clone()));
    out.write_record(&header).map_err(fail)?;
    for r in responses {
        let mut row = vec![r.openid.clone(), format_time(r.submitted_at)];
        for field in &survey.fields {
            row.push(match r.answers.get(&field.id) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join("; "),
                Some(other) => other.to_string(),
            });
        }
        out.write_record(&row).map_err(fail)?;
    }
    out.into_inner()
        .map_err(|e| Error::internal(format!("cannot finish the CSV export: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey() -> Survey {
        let new: NewSurvey = serde_json::from_value(serde_json::json!({
            "title": "Feedback",
            "fields": [
                {"id": "name", "label": "Name, \"nick\"", "type": "text", "required": true, "max_length": 10},
                {"id": "age", "label": "Age", "type": "number", "min": 1, "max": 120},
                {"id": "fav", "label": "Favourite", "type": "single", "options": ["tea", "coffee"], "required": true},
                {"id": "tags", "label": "Tags", "type": "multiple", "options": ["a", "b", "c"], "max": 2},
                {"id": "day", "label": "Day", "type": "date"},
                {"id": "tel", "label": "Phone", "type": "phone"},
                {"id": "mail", "label": "Mail", "type": "email"},
                {"id": "note", "label": "Note", "type": "textarea"}
            ]
        }))
        .unwrap();
        new.into_survey("s1".into(), 0).unwrap()
    }

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        raw_from_form(&pairs)
    }

    #[test]
    fn valid_answers_are_typed() {
        let answers = survey()
            .validate(&raw(&[
                ("name", " Li "),
                ("age", "30"),
                ("fav", "tea"),
                ("tags", "c"),
                ("tags", "a"),
                ("day", "2026-02-28"),
                ("tel", "+86 138-0000-0000"),
                ("mail", "li@example.cn"),
                ("note", ""),
            ]))
            .unwrap();
        assert_eq!(answers["name"], "Li");
        assert_eq!(answers["age"], 30);
        assert_eq!(answers["tags"], serde_json::json!(["a", "c"]));
        assert!(!answers.contains_key("note"));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = survey()
            .validate(&raw(&[
                ("name", "much too long a name"),
                ("age", "0"),
                ("tags", "a"),
                ("tags", "b"),
                ("tags", "c"),
                ("day", "2026-02-30"),
                ("tel", "12ab"),
                ("mail", "not-an-address"),
                ("extra", "x"),
            ]))
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["extra", "name", "age", "fav", "tags", "day", "tel", "mail"]
        );
        assert_eq!(errors[3].message, "required / 必填");
    }

    #[test]
    fn bad_definitions_are_refused() {
        let bad = |fields: serde_json::Value| {
            let new: NewSurvey =
                serde_json::from_value(serde_json::json!({"title": "t", "fields": fields}))
                    .unwrap();
            new.into_survey("s".into(), 0)
        };
        assert!(bad(serde_json::json!([])).is_err());
        assert!(
            bad(serde_json::json!([{"id": "a", "label": "A", "type": "single", "options": ["x"]}]))
                .is_err()
        );
        assert!(
            bad(serde_json::json!([{"id": "a", "label": "A", "type": "text", "min": 1}])).is_err()
        );
        assert!(
            bad(
                serde_json::json!([{"id": "a", "label": "A", "type": "number", "min": 5, "max": 1}])
            )
            .is_err()
        );
        assert!(bad(serde_json::json!([{"id": "a", "label": "A", "type": "text"}, {"id": "a", "label": "B", "type": "text"}])).is_err());
        assert!(bad(serde_json::json!([{"id": "a b", "label": "A", "type": "text"}])).is_err());
    }

    #[test]
    fn json_answers_become_form_values() {
        let json = serde_json::json!({"name": "Li", "age": 3, "tags": ["a", "b"], "day": null});
        let raw = raw_from_json(json.as_object().unwrap()).unwrap();
        assert_eq!(raw["age"], vec!["3"]);
        assert_eq!(raw["tags"], vec!["a", "b"]);
        assert!(raw["day"].is_empty());
        let bad = serde_json::json!({"name": {"x": 1}});
        assert!(raw_from_json(bad.as_object().unwrap()).is_err());
    }

    #[test]
    fn csv_export_quotes_and_parses_back() {
        let s = survey();
        let answers = s
            .validate(&raw(&[
                ("name", "A, \"B\""),
                ("fav", "coffee"),
                ("tags", "a"),
                ("tags", "b"),
                ("note", "line one\nline two"),
            ]))
            .unwrap();
        let r = Response {
            openid: "o-1".into(),
            submitted_at: 5,
            answers,
        };
        let bytes = to_csv(&s, &[r], |t| format!("t{t}")).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header[2], "Name, \"nick\"");
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][0], "o-1");
        assert_eq!(&rows[0][1], "t5");
        assert_eq!(&rows[0][2], "A, \"B\"");
        assert_eq!(&rows[0][5], "a; b");
        assert_eq!(&rows[0][9], "line one\nline two");
    }
}
