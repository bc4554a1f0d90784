//! Template messages (模板消息): each account's registry of templates and their rendering.
//!
//! A template has an id, a title and a content with placeholders in WeChat's `{{name.DATA}}` style:
//!
//! ```text
//! {{first.DATA}}
//! Order: {{order.DATA}}
//! Total: {{amount.DATA}}
//! {{remark.DATA}}
//! ```
//!
//! Its fields (`first`, `order`, `amount`, `remark`) are read from the content. At most
//! [`MAX_ACTIVE_TEMPLATES`] templates are active per account; inactive ones are kept but cannot be
//! sent. [`TemplateStore::render`] validates a send's fields (every placeholder supplied, nothing
//! unknown, values at most [`MAX_FIELD_VALUE`] characters) and fills them in; the rule "template
//! messages only from verified service accounts" is [`check_template_rights`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::accounts::{Account, AccountKind, refuse_control_chars};
use crate::error::{PlazaError, Result};
use crate::storage::backend::{key, prefix};
use crate::storage::{Json, Pending, Store, Table};

/// Active templates one account may hold (the platform's own limit).
pub const MAX_ACTIVE_TEMPLATES: usize = 25;
/// Templates (active or not) one account may keep.
pub const MAX_TEMPLATES: usize = 200;
/// Longest value of one field, in characters.
pub const MAX_FIELD_VALUE: usize = 200;
/// Longest title, in characters.
pub const MAX_TITLE: usize = 64;
/// Longest content, in characters.
pub const MAX_CONTENT: usize = 2000;
/// Most distinct fields in one template.
pub const MAX_FIELDS: usize = 30;

/// A template in an account's registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    pub title: String,
    pub content: String,
    /// Placeholder names in order of first appearance, read from `content`.
    pub fields: Vec<String>,
    pub active: bool,
    pub created_at: u64,
    pub updated_at: u64,
}

/// What an operator supplies to add a template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    /// Chosen by the operator, or generated (`tpl_…`) when absent.
    pub id: Option<String>,
    pub title: String,
    pub content: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// An operator's change to a template; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateUpdate {
    pub title: Option<String>,
    pub content: Option<String>,
    pub active: Option<bool>,
}

/// Template messages are for verified service accounts only (the platform's rule).
pub fn check_template_rights(account: &Account) -> Result<()> {
    match (account.kind, account.verified) {
        (AccountKind::Service, true) => Ok(()),
        (AccountKind::Subscription, _) => Err(PlazaError::PermissionDenied(format!(
            "template messages need a verified service account; {:?} is a subscription account",
            account.id
        ))),
        (AccountKind::Service, false) => Err(PlazaError::PermissionDenied(format!(
            "template messages need a verified service account; {:?} is a service account that is not verified",
            account.id
        ))),
    }
}

/// Template ids: 1-64 of A-Z, a-z, 0-9, `_`, `-` (WeChat's ids are of this kind too).
pub fn validate_template_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(PlazaError::invalid(format!(
            "template id {id:?} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
        )));
    }
    Ok(())
}

fn validate_title(title: &str) -> Result<()> {
    let n = title.chars().count();
    if title.trim().is_empty() || n > MAX_TITLE {
        return Err(PlazaError::invalid(format!(
            "template title must be 1-{MAX_TITLE} characters without control characters"
        )));
    }
    refuse_control_chars("template title", title, &[])
}

/// One piece of a template's content: literal text or a placeholder.
#[derive(Debug, Clone, PartialEq)]
enum Part<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Splits content into text and `{{name.DATA}}` placeholders. Every `{{` must open a well-formed
/// placeholder (`name` = 1-32 of A-Z, a-z, 0-9, `_`); anything else is `Invalid` with its position.
fn parse_content(content: &str) -> Result<Vec<Part<'_>>> {
    let mut parts = Vec::new();
    let mut rest = content;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let pos = content[..offset + open].chars().count() + 1;
        let bad = || {
            PlazaError::invalid(format!(
                "template content: `{{{{` at position {pos} does not start a placeholder like {{{{name.DATA}}}} (name: 1-32 of A-Z, a-z, 0-9, '_')"
            ))
        };
        let close = after.find("}}").ok_or_else(bad)?;
        let name = after[..close].strip_suffix(".DATA").ok_or_else(bad)?;
        if name.is_empty()
            || name.len() > 32
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(bad());
        }
        parts.push(Part::Field(name));
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// The placeholder names of `content` in order of first appearance.
pub fn fields_of(content: &str) -> Result<Vec<String>> {
    let n = content.chars().count();
    if content.trim().is_empty() || n > MAX_CONTENT {
        return Err(PlazaError::invalid(format!(
            "template content must be 1-{MAX_CONTENT} characters"
        )));
    }
    // Content is multi-line text: newline and tab lay it out; every other control is refused.
    refuse_control_chars("template content", content, &['\n', '\t'])?;
    let mut seen = BTreeSet::new();
    let fields: Vec<String> = parse_content(content)?
        .into_iter()
        .filter_map(|p| match p {
            Part::Field(name) if seen.insert(name) => Some(name.to_string()),
            _ => None,
        })
        .collect();
    if fields.len() > MAX_FIELDS {
        return Err(PlazaError::invalid(format!(
            "template has {} fields; the limit is {MAX_FIELDS}",
            fields.len()
        )));
    }
    Ok(fields)
}

fn names(list: &[&str]) -> String {
    list.iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Template {
    /// Fills the placeholders with `fields` after checking them: every placeholder supplied, no
    /// unknown or repeated field, each value at most [`MAX_FIELD_VALUE`] characters. Values are
    /// inserted as they are (a value that looks like a placeholder is not expanded again).
    pub fn render(&self, fields: &[(String, String)]) -> Result<String> {
        let mut given = BTreeSet::new();
        let mut repeated = Vec::new();
        for (name, _) in fields {
            if !given.insert(name.as_str()) {
                repeated.push(name.as_str());
            }
        }
        let known: BTreeSet<&str> = self.fields.iter().map(String::as_str).collect();
        let unknown: Vec<&str> = given.difference(&known).copied().collect();
        let missing: Vec<&str> = self
            .fields
            .iter()
            .map(String::as_str)
            .filter(|f| !given.contains(f))
            .collect();
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("missing field(s) {}", names(&missing)));
        }
        if !unknown.is_empty() {
            problems.push(format!(
                "unknown field(s) {} (the template has {})",
                names(&unknown),
                names(&self.fields.iter().map(String::as_str).collect::<Vec<_>>())
            ));
        }
        if !repeated.is_empty() {
            problems.push(format!("field(s) given twice: {}", names(&repeated)));
        }
        let long: Vec<&str> = fields
            .iter()
            .filter(|(_, v)| v.chars().count() > MAX_FIELD_VALUE)
            .map(|(n, _)| n.as_str())
            .collect();
        if !long.is_empty() {
            problems.push(format!(
                "value of {} longer than {MAX_FIELD_VALUE} characters",
                names(&long)
            ));
        }
        if !problems.is_empty() {
            return Err(PlazaError::invalid(format!(
                "template {:?}: {}",
                self.id,
                problems.join("; ")
            )));
        }
        let mut out = String::with_capacity(self.content.len() + 64);
        for part in parse_content(&self.content)? {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(name) => {
                    if let Some((_, v)) = fields.iter().find(|(n, _)| n == name) {
                        out.push_str(v);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Each account's templates: `(account, id) → Template`.
pub struct TemplateStore {
    store: Arc<Store>,
    table: Table<Json<Template>>,
    /// Serialises changes that count templates, so the active limit holds under concurrency.
    lock: Mutex<()>,
}

impl TemplateStore {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(TemplateStore {
            table: store.table("templates")?,
            store,
            lock: Mutex::new(()),
        })
    }

    fn guard(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.lock
            .lock()
            .map_err(|_| PlazaError::internal("template lock poisoned"))
    }

    /// The account's templates in id order.
    pub fn list(&self, account: &str) -> Result<Vec<Template>> {
        self.table.values(&prefix(&[account]))
    }

    pub fn get(&self, account: &str, id: &str) -> Result<Template> {
        validate_template_id(id)?;
        self.table
            .get(&key(&[account, id]))?
            .ok_or_else(|| PlazaError::not_found(format!("template {id:?} of account {account:?}")))
    }

    fn put(&self, account: &str, t: &Template) -> Result<Pending<()>> {
        self.store
            .write(|tx| tx.put(&self.table, &key(&[account, &t.id]), t))
    }

    fn active_limit(account: &str) -> PlazaError {
        PlazaError::QuotaExceeded {
            message: format!(
                "account {account:?} already has {MAX_ACTIVE_TEMPLATES} active templates, the most an account may have; deactivate or delete one first"
            ),
            resets_at: None,
        }
    }

    pub fn create(&self, account: &str, new: NewTemplate, now: u64) -> Result<Pending<Template>> {
        let id = match new.id {
            Some(id) => id,
            None => format!("tpl_{}", crate::accounts::random_token(8)?),
        };
        validate_template_id(&id)?;
        validate_title(&new.title)?;
        let fields = fields_of(&new.content)?;
        let _g = self.guard()?;
        let all = self.list(account)?;
        if all.iter().any(|t| t.id == id) {
            return Err(PlazaError::Conflict(format!(
                "template {id:?} already exists on account {account:?}"
            )));
        }
        if all.len() >= MAX_TEMPLATES {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "account {account:?} already keeps {MAX_TEMPLATES} templates; delete one first"
                ),
                resets_at: None,
            });
        }
        if new.active && all.iter().filter(|t| t.active).count() >= MAX_ACTIVE_TEMPLATES {
            return Err(Self::active_limit(account));
        }
        let t = Template {
            id,
            title: new.title,
            content: new.content,
            fields,
            active: new.active,
            created_at: now,
            updated_at: now,
        };
        Ok(self.put(account, &t)?.map(|()| t))
    }

    pub fn update(
        &self,
        account: &str,
        id: &str,
        upd: TemplateUpdate,
        now: u64,
    ) -> Result<Pending<Template>> {
        if let Some(title) = &upd.title {
            validate_title(title)?;
        }
        let fields = upd.content.as_deref().map(fields_of).transpose()?;
        let _g = self.guard()?;
        let mut t = self.get(account, id)?;
        if upd.active == Some(true) && !t.active {
            let active = self.list(account)?.iter().filter(|t| t.active).count();
            if active >= MAX_ACTIVE_TEMPLATES {
                return Err(Self::active_limit(account));
            }
        }
        if let Some(title) = upd.title {
            t.title = title;
        }
        if let (Some(content), Some(fields)) = (upd.content, fields) {
            t.content = content;
            t.fields = fields;
        }
        if let Some(active) = upd.active {
            t.active = active;
        }
        t.updated_at = now;
        Ok(self.put(account, &t)?.map(|()| t))
    }

    pub fn delete(&self, account: &str, id: &str) -> Result<Pending<()>> {
        validate_template_id(id)?;
        let _g = self.guard()?;
        self.store.write(|tx| {
            if !tx.delete(&self.table, &key(&[account, id]))? {
                return Err(PlazaError::not_found(format!(
                    "template {id:?} of account {account:?}"
                )));
            }
            Ok(())
        })
    }

    /// The text of template `template_id` with `fields` filled in, after checking that the
    /// template exists (`NotFound`) and is active (`Conflict`), and the fields (`Invalid`, naming
    /// every missing, unknown or repeated field and every value over [`MAX_FIELD_VALUE`]
    /// characters). Account rights are separate: see [`check_template_rights`].
    pub fn render(
        &self,
        account: &str,
        template_id: &str,
        fields: &[(String, String)],
    ) -> Result<String> {
        let t = self.get(account, template_id)?;
        if !t.active {
            return Err(PlazaError::Conflict(format!(
                "template {template_id:?} of account {account:?} is inactive; activate it to send it"
            )));
        }
        t.render(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::{done, faulty_store};

    fn store() -> (tempfile::TempDir, TemplateStore) {
        let (dir, _faulty, store) = faulty_store();
        (dir, TemplateStore::new(store).unwrap())
    }

    fn new(id: &str, content: &str) -> NewTemplate {
        NewTemplate {
            id: Some(id.into()),
            title: "Order paid".into(),
            content: content.into(),
            active: true,
        }
    }

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const ORDER: &str = "{{first.DATA}}\nOrder: {{order.DATA}}\nTotal: {{amount.DATA}} ({{order.DATA}})\n{{remark.DATA}}";

    #[test]
    fn placeholders_are_read_from_the_content() {
        assert_eq!(
            fields_of(ORDER).unwrap(),
            ["first", "order", "amount", "remark"]
        );
        assert_eq!(fields_of("no placeholders").unwrap(), Vec::<String>::new());
        assert_eq!(fields_of("单价：{{price.DATA}}元").unwrap(), ["price"]);
        for bad in [
            "{{first}}",
            "{{first.DATA}",
            "{{.DATA}}",
            "{{fir st.DATA}}",
            "a {{ b",
            "{{first.data}}",
        ] {
            let e = fields_of(bad).unwrap_err();
            assert_eq!(e.code(), "invalid", "{bad}");
            assert!(e.message().contains("position"), "{e}");
        }
        let e = fields_of("价格 {{x}}").unwrap_err();
        assert!(e.message().contains("position 4"), "{e}");
        assert_eq!(fields_of("").unwrap_err().code(), "invalid");
        assert_eq!(fields_of(&"x".repeat(2001)).unwrap_err().code(), "invalid");
    }

    #[test]
    fn content_keeps_newlines_and_tabs_but_no_other_controls() {
        assert!(fields_of("Dear {{name.DATA}},\n\tthanks").is_ok());
        for bad in [
            "a\r\nb",
            "a\u{1b}[2Jb",
            "a\0b",
            "a\u{7f}b",
            "a\u{202e}b",
            "a\u{2067}b",
        ] {
            let e = fields_of(bad).unwrap_err();
            assert!(e.message().contains("template content"), "{bad:?}: {e}");
        }
        for bad in ["Paid\n", "Paid\t", "Paid\u{1b}", "Paid\u{202e}"] {
            let e = validate_title(bad).unwrap_err();
            assert_eq!(e.code(), "invalid", "{bad:?}");
        }
        assert!(validate_title("订单支付成功").is_ok());
    }

    #[test]
    fn render_validates_fields() {
        let (_d, s) = store();
        done(s.create("a", new("order_paid", ORDER), 1)).unwrap();
        let text = s
            .render(
                "a",
                "order_paid",
                &f(&[
                    ("first", "Thanks!"),
                    ("order", "A-1"),
                    ("amount", "¥9.90"),
                    ("remark", "{{first.DATA}}"),
                ]),
            )
            .unwrap();
        assert_eq!(
            text,
            "Thanks!\nOrder: A-1\nTotal: ¥9.90 (A-1)\n{{first.DATA}}"
        );
        let e = s
            .render("a", "order_paid", &f(&[("first", "x"), ("colour", "red")]))
            .unwrap_err();
        assert_eq!(e.code(), "invalid");
        let m = e.message();
        assert!(
            m.contains("missing field(s) \"order\", \"amount\", \"remark\""),
            "{m}"
        );
        assert!(m.contains("unknown field(s) \"colour\""), "{m}");
        let long = "长".repeat(201);
        let e = s
            .render(
                "a",
                "order_paid",
                &f(&[
                    ("first", "x"),
                    ("order", &long),
                    ("amount", "1"),
                    ("remark", ""),
                ]),
            )
            .unwrap_err();
        assert!(e.message().contains("\"order\" longer than 200"), "{e}");
        let ok = "长".repeat(200);
        s.render(
            "a",
            "order_paid",
            &f(&[
                ("first", "x"),
                ("order", &ok),
                ("amount", "1"),
                ("remark", ""),
            ]),
        )
        .unwrap();
        let e = s
            .render(
                "a",
                "order_paid",
                &f(&[
                    ("first", "x"),
                    ("first", "y"),
                    ("order", "1"),
                    ("amount", "1"),
                    ("remark", ""),
                ]),
            )
            .unwrap_err();
        assert!(e.message().contains("given twice: \"first\""), "{e}");
        assert_eq!(s.render("a", "nope", &[]).unwrap_err().code(), "not_found");
        assert_eq!(
            s.render("b", "order_paid", &[]).unwrap_err().code(),
            "not_found",
            "templates are per account"
        );
        done(s.update(
            "a",
            "order_paid",
            TemplateUpdate {
                active: Some(false),
                ..Default::default()
            },
            2,
        ))
        .unwrap();
        assert_eq!(
            s.render("a", "order_paid", &[]).unwrap_err().code(),
            "conflict"
        );
    }

    #[test]
    fn at_most_25_active() {
        let (_d, s) = store();
        for i in 0..MAX_ACTIVE_TEMPLATES {
            done(s.create("a", new(&format!("t{i}"), "{{x.DATA}}"), 1)).unwrap();
        }
        let e = done(s.create("a", new("t25", "{{x.DATA}}"), 1)).unwrap_err();
        assert_eq!(e.code(), "quota_exceeded");
        // Inactive ones may be kept…
        let mut inactive = new("t25", "{{x.DATA}}");
        inactive.active = false;
        done(s.create("a", inactive, 1)).unwrap();
        // …but not activated while 25 are active.
        let act = TemplateUpdate {
            active: Some(true),
            ..Default::default()
        };
        assert_eq!(
            done(s.update("a", "t25", act.clone(), 2))
                .unwrap_err()
                .code(),
            "quota_exceeded"
        );
        done(s.delete("a", "t0")).unwrap();
        done(s.update("a", "t25", act, 2)).unwrap();
        assert_eq!(s.list("a").unwrap().iter().filter(|t| t.active).count(), 25);
        done(s.create("b", new("t0", "{{x.DATA}}"), 1)).unwrap();
    }

    #[test]
    fn crud() {
        let (_d, s) = store();
        let t = done(s.create(
            "a",
            NewTemplate {
                id: None,
                title: "Hi".into(),
                content: "Hello {{name.DATA}}".into(),
                active: true,
            },
            1,
        ))
        .unwrap();
        assert!(t.id.starts_with("tpl_"), "{}", t.id);
        assert_eq!(t.fields, ["name"]);
        assert_eq!(
            done(s.create("a", new(&t.id, "x"), 1)).unwrap_err().code(),
            "conflict"
        );
        let u = done(s.update(
            "a",
            &t.id,
            TemplateUpdate {
                content: Some("Bye {{who.DATA}}, {{when.DATA}}".into()),
                ..Default::default()
            },
            5,
        ))
        .unwrap();
        assert_eq!(u.fields, ["who", "when"]);
        assert_eq!((u.created_at, u.updated_at, u.title.as_str()), (1, 5, "Hi"));
        assert_eq!(s.get("a", &t.id).unwrap(), u);
        assert_eq!(s.list("a").unwrap(), std::slice::from_ref(&u));
        done(s.delete("a", &t.id)).unwrap();
        assert_eq!(done(s.delete("a", &t.id)).unwrap_err().code(), "not_found");
        assert_eq!(s.get("a", "bad id").unwrap_err().code(), "invalid");
        assert_eq!(
            done(s.create("a", new("x", "{{bad}}"), 1))
                .unwrap_err()
                .code(),
            "invalid"
        );
        let mut untitled = new("y", "{{a.DATA}}");
        untitled.title = " ".into();
        assert_eq!(
            done(s.create("a", untitled, 1)).unwrap_err().code(),
            "invalid"
        );
    }

    #[test]
    fn rights() {
        let account = |kind: AccountKind, verified: bool| -> Account {
            serde_json::from_value(serde_json::json!({
                "id": "x", "name": "x", "kind": kind, "verified": verified,
                "timezone": "UTC", "created_at": 0, "ingress_key": ""
            }))
            .unwrap()
        };
        check_template_rights(&account(AccountKind::Service, true)).unwrap();
        let e = check_template_rights(&account(AccountKind::Subscription, true)).unwrap_err();
        assert_eq!(e.code(), "permission_denied");
        assert!(e.message().contains("subscription account"), "{e}");
        let e = check_template_rights(&account(AccountKind::Service, false)).unwrap_err();
        assert_eq!(e.code(), "permission_denied");
        assert!(e.message().contains("not verified"), "{e}");
    }
}
