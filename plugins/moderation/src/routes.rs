//! The operator HTTP API under `/p/{account}/moderation/…` (every route needs an operator token
//! for the account; others get `403`). Errors are `{"error":{"code","message"}}` with the
//! matching status.
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /lists` | `{"lists":[{"name","action","words","source":"platform"\|"config"\|"stored"}]}` |
//! | `PUT /lists/{name}` `{"action","words":[…]}` | `200` the stored list (replaces one of that name) |
//! | `DELETE /lists/{name}` | `{"deleted":true\|false}` |
//! | `POST /check` `{"text"}` | `{"action":null\|"mask"\|"hold"\|"block","lists","words","masked"}` (nothing stored) |
//! | `GET /held?state=pending` | `{"items":[…]}` oldest first; `state` optional |
//! | `GET /held/{id}` | the item |
//! | `POST /held/{id}/approve` | delivers the message (once) and answers the item, `state:"delivered"`; `409` if already decided |
//! | `POST /held/{id}/reject` | the item, `state:"rejected"`; `409` if already decided |

use plaza_sdk::router::{Access, Request, Router};
use plaza_sdk::{CallContext, Content, Error, HttpRequest, HttpResponse, messaging, storage};
use serde::Deserialize;
use serde_json::json;

use crate::config::{Config, PLATFORM_LIST};
use crate::content;
use crate::held::{self, HeldItem, State};
use crate::matcher::{Action, Matcher, WordList, mask};
use crate::normalize::normalize_word;

/// Storage key prefix of lists stored through `PUT /lists/{name}`.
pub const LIST_PREFIX: &str = "list:";
/// Most words one stored list may hold.
pub const MAX_WORDS: usize = 20_000;
/// Longest word, in characters.
pub const MAX_WORD_CHARS: usize = 100;

pub fn handle(ctx: &CallContext, req: &HttpRequest) -> Result<HttpResponse, Error> {
    Router::new()
        .get("/lists", Access::Operator, |_| lists())
        .put("/lists/{name}", Access::Operator, put_list)
        .delete("/lists/{name}", Access::Operator, delete_list)
        .post("/check", Access::Operator, check)
        .get("/held", Access::Operator, list_held)
        .get("/held/{id}", Access::Operator, |r| {
            Ok(HttpResponse::json(200, &load_held(r.param("id"))?))
        })
        .post("/held/{id}/approve", Access::Operator, |r| {
            approve(r.param("id"))
        })
        .post("/held/{id}/reject", Access::Operator, |r| {
            reject(r.param("id"))
        })
        .handle(ctx, req)
}

/// Every list stored through the routes, in name order.
pub fn stored_lists() -> Result<Vec<WordList>, Error> {
    storage::scan_prefix_json::<WordList>(LIST_PREFIX)
        .map(|entry| entry.map(|(_, list)| list))
        .collect()
}

/// Every list in effect: platform, configured, stored.
pub fn all_lists(config: &Config) -> Result<Vec<WordList>, Error> {
    let mut lists = config.configured_lists();
    lists.extend(stored_lists()?);
    Ok(lists)
}

fn lists() -> Result<HttpResponse, Error> {
    let config: Config = plaza_sdk::config::parse()?;
    let mut out = Vec::new();
    for (i, list) in config.configured_lists().into_iter().enumerate() {
        // `configured_lists` puts the platform list first when it is enabled.
        let source = if i == 0 && config.platform_list {
            "platform"
        } else {
            "config"
        };
        out.push(json!({"name": list.name, "action": list.action, "words": list.words, "source": source}));
    }
    for list in stored_lists()? {
        out.push(json!({"name": list.name, "action": list.action, "words": list.words, "source": "stored"}));
    }
    Ok(HttpResponse::json(200, &json!({ "lists": out })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListBody {
    action: Action,
    words: Vec<String>,
}

/// Checks a list name from a path: 1-64 of `A-Z a-z 0-9 _ -`, not the platform list's.
pub fn check_list_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(Error::invalid(format!(
            "list name {name:?} must be 1-64 letters, digits, '_' or '-'"
        )));
    }
    if name == PLATFORM_LIST {
        return Err(Error::invalid(
            "\"platform\" is the list that ships with the plugin; switch it with the configuration's platform_list",
        ));
    }
    Ok(())
}

/// Checks the words of a list: at most [`MAX_WORDS`], each at most [`MAX_WORD_CHARS`]
/// characters with at least one letter or digit (a word of only spaces or punctuation would
/// match everywhere).
pub fn check_words(words: &[String]) -> Result<(), Error> {
    if words.len() > MAX_WORDS {
        return Err(Error::invalid(format!(
            "a list holds at most {MAX_WORDS} words, not {}",
            words.len()
        )));
    }
    for word in words {
        if word.chars().count() > MAX_WORD_CHARS {
            return Err(Error::invalid(format!(
                "word {word:?} is longer than {MAX_WORD_CHARS} characters"
            )));
        }
        if normalize_word(word).is_empty() {
            return Err(Error::invalid(format!(
                "word {word:?} has no letter or digit, so it would match everywhere"
            )));
        }
    }
    Ok(())
}

fn put_list(r: &Request<'_>) -> Result<HttpResponse, Error> {
    let name = r.param("name");
    check_list_name(name)?;
    let body: ListBody = r.json()?;
    check_words(&body.words)?;
    let list = WordList {
        name: name.to_string(),
        action: body.action,
        words: body.words,
    };
    storage::set_json(&format!("{LIST_PREFIX}{name}"), &list)?;
    Ok(HttpResponse::json(200, &list))
}

fn delete_list(r: &Request<'_>) -> Result<HttpResponse, Error> {
    let name = r.param("name");
    check_list_name(name)?;
    let deleted = storage::delete(&format!("{LIST_PREFIX}{name}"))?;
    Ok(HttpResponse::json(200, &json!({ "deleted": deleted })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    text: String,
}

fn check(r: &Request<'_>) -> Result<HttpResponse, Error> {
    let body: CheckBody = r.json()?;
    let config: Config = plaza_sdk::config::parse()?;
    let matcher = Matcher::new(&all_lists(&config)?).map_err(Error::internal)?;
    let answer = match matcher.scan(&body.text) {
        None => json!({"action": null, "lists": [], "words": [], "masked": body.text}),
        Some(f) => json!({
            "action": f.action,
            "lists": f.lists,
            "words": f.words,
            "masked": mask(&body.text, &f.ranges),
        }),
    };
    Ok(HttpResponse::json(200, &answer))
}

fn list_held(r: &Request<'_>) -> Result<HttpResponse, Error> {
    let wanted = match r.query("state").as_deref() {
        None | Some("") => None,
        Some("pending") => Some(State::Pending),
        Some("approved") => Some(State::Approved),
        Some("delivered") => Some(State::Delivered),
        Some("rejected") => Some(State::Rejected),
        Some(other) => {
            return Err(Error::invalid(format!(
                "state {other:?} is not one of pending, approved, delivered, rejected"
            )));
        }
    };
    let mut items = Vec::new();
    for entry in storage::scan_prefix_json::<HeldItem>(held::PREFIX) {
        let (_, item) = entry?;
        if wanted.is_none_or(|s| s == item.state) {
            items.push(item);
        }
    }
    Ok(HttpResponse::json(200, &json!({ "items": items })))
}

fn checked_id(id: &str) -> Result<&str, Error> {
    if held::valid_id(id) {
        Ok(id)
    } else {
        Err(Error::not_found(format!("no held message {id:?}")))
    }
}

fn load_held(id: &str) -> Result<HeldItem, Error> {
    let id = checked_id(id)?;
    storage::get_json(&held::key(id))?
        .ok_or_else(|| Error::not_found(format!("no held message {id}")))
}

/// Milliseconds since the epoch (the host's WASI clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn approve(id: &str) -> Result<HttpResponse, Error> {
    let id = checked_id(id)?;
    let key = held::key(id);
    let now = now_ms();
    // Only the caller whose swap moves the item out of `pending` delivers.
    let approved = storage::update_json(&key, |item| {
        held::decide(item, id, State::Approved, now).map(Some)
    })?
    .ok_or_else(|| Error::internal("approval stored nothing"))?;
    let content = Content::from(&approved.content);
    let message_id = match messaging::send(&approved.to, &content) {
        Ok(message_id) => message_id,
        Err(e) => {
            // Not delivered: the item is pending again, so it can be approved later.
            storage::update_json(&key, held::undo_approval)?;
            return Err(e);
        }
    };
    let delivered = storage::update_json(&key, |item| {
        held::delivered(item, id, &message_id).map(Some)
    })?;
    Ok(HttpResponse::json(200, &delivered))
}

fn reject(id: &str) -> Result<HttpResponse, Error> {
    let id = checked_id(id)?;
    let now = now_ms();
    let rejected = storage::update_json(&held::key(id), |item| {
        held::decide(item, id, State::Rejected, now).map(Some)
    })?;
    Ok(HttpResponse::json(200, &rejected))
}

/// Stores a newly held message and returns its id.
pub fn hold(
    to: &str,
    content: &Content,
    finding: &crate::matcher::Finding,
) -> Result<String, Error> {
    let n = storage::increment(held::SEQUENCE, 1)?;
    let id = held::id(n);
    let item = HeldItem {
        id: id.clone(),
        state: State::Pending,
        to: to.to_string(),
        content: content::StoredContent::from(content),
        lists: finding.lists.clone(),
        words: finding.words.clone(),
        held_at: now_ms(),
        decided_at: None,
        message_id: None,
    };
    storage::set_json(&held::key(&id), &item)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_and_words_are_checked() {
        assert!(check_list_name("ads_2024-x").is_ok());
        for bad in ["", "a b", "a/b", "platform", &"x".repeat(65), "名单"] {
            assert_eq!(check_list_name(bad).unwrap_err().code(), "invalid", "{bad}");
        }
        assert!(check_words(&["ok".into(), "法 轮".into()]).is_ok());
        assert!(check_words(&[" - ".into()]).is_err());
        assert!(check_words(&["x".repeat(101)]).is_err());
        assert!(check_words(&vec!["w".to_string(); MAX_WORDS + 1]).is_err());
    }
}
