//! The admin HTTP API under `/p/{account}/auto-reply/rules`.
//!
//! | request | effect |
//! | --- | --- |
//! | `GET /rules` | `200 {"source":"config"\|"routes","rules":[…]}`: the rules in effect |
//! | `PUT /rules` (JSON array of rules) | replaces the stored rules |
//! | `POST /rules` (one rule) | appends to the rules in effect and stores the result (`201`) |
//! | `DELETE /rules` | drops the stored rules: the configuration's rules apply again |
//!
//! **Stored rules supersede the configuration's `rules`**: once a `PUT` or `POST` has stored a
//! list under the storage key [`RULES_KEY`], matching ignores the configured list (even an
//! empty stored list wins), until `DELETE /rules` removes it. `follow_reply` and `default_reply`
//! always come from the configuration. Mutations answer with the rules then in effect.
//!
//! Mutations need `ctx.operator` (`403` otherwise). Errors are JSON,
//! `{"error":{"code":…,"message":…}}`: `400` for malformed JSON, an unknown `match` kind, an empty
//! keyword or a regex that does not compile; `404` for another path; `405` for another method.
//!
//! Storage is behind [`RuleStore`] so that this module is unit-tested natively.

use plaza_sdk::{Error, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::rules::{self, Config, Rule};

/// The storage key of the rules stored through these routes.
pub const RULES_KEY: &str = "rules";

/// `POST` appends with compare-and-swap; this many lost races in a row give up with `409`.
const APPEND_ATTEMPTS: usize = 5;

/// Where the stored rules live; the plugin's storage in production, memory in tests.
pub trait RuleStore {
    /// The stored rules as JSON bytes, if any.
    fn load(&self) -> Result<Option<Vec<u8>>, Error>;
    /// Replaces the stored rules.
    fn save(&self, json: &[u8]) -> Result<(), Error>;
    /// Replaces the stored rules only if they still are `expected`; `true` if replaced.
    fn swap(&self, expected: Option<&[u8]>, json: &[u8]) -> Result<bool, Error>;
    /// Removes the stored rules; `true` if there were any.
    fn remove(&self) -> Result<bool, Error>;
}

/// Which list is in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The installation's configuration.
    Config,
    /// Stored through these routes.
    Routes,
}

#[derive(Serialize)]
struct RulesView<'a> {
    source: Source,
    rules: &'a [Rule],
}

/// The stored rules, if any. Corrupt bytes are an internal error: only this plugin writes them.
pub fn stored_rules(store: &dyn RuleStore) -> Result<Option<Vec<Rule>>, Error> {
    store.load()?.map(|bytes| decode(&bytes)).transpose()
}

fn decode(bytes: &[u8]) -> Result<Vec<Rule>, Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::internal(format!("stored rules are not valid: {e}")))
}

fn encode(rules: &[Rule]) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(rules).map_err(|e| Error::internal(format!("cannot encode rules: {e}")))
}

fn view(source: Source, rules: &[Rule], status: u16) -> HttpResponse {
    HttpResponse::json(status, &RulesView { source, rules })
}

fn bad_request(message: impl AsRef<str>) -> HttpResponse {
    HttpResponse::json_error(400, "invalid", message.as_ref())
}

/// Handles one request. `operator` is `ctx.operator`; `load_config` is called at most once, and
/// only when the configuration's rules are needed.
pub fn handle(
    operator: bool,
    req: &HttpRequest,
    store: &dyn RuleStore,
    load_config: &dyn Fn() -> Result<Config, Error>,
) -> Result<HttpResponse, Error> {
    let path = req.path.trim_end_matches('/');
    if path != "/rules" {
        let message = format!("no route for {}", req.path);
        return Ok(HttpResponse::json_error(404, "not_found", &message));
    }
    let method = req.method.to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "PUT" | "POST" | "DELETE") {
        let message = format!("{} is not allowed on /rules", req.method);
        return Ok(
            HttpResponse::json_error(405, "method_not_allowed", &message)
                .with_header("allow", "GET, PUT, POST, DELETE"),
        );
    }
    if method != "GET" && !operator {
        let message = "changing rules needs an operator token for this account";
        return Ok(HttpResponse::json_error(403, "forbidden", message));
    }
    let result = match method.as_str() {
        "GET" => get(store, load_config),
        "PUT" => put(req, store),
        "POST" => post(req, store, load_config),
        _ => delete(store, load_config),
    };
    result.or_else(host_error_response)
}

fn get(
    store: &dyn RuleStore,
    load_config: &dyn Fn() -> Result<Config, Error>,
) -> Result<HttpResponse, Error> {
    Ok(match stored_rules(store)? {
        Some(rules) => view(Source::Routes, &rules, 200),
        None => view(Source::Config, &load_config()?.rules, 200),
    })
}

fn put(req: &HttpRequest, store: &dyn RuleStore) -> Result<HttpResponse, Error> {
    let rules: Vec<Rule> = match serde_json::from_slice(&req.body) {
        Ok(rules) => rules,
        Err(e) => return Ok(bad_request(format!("expected a JSON array of rules: {e}"))),
    };
    if let Err(message) = rules::validate(&rules) {
        return Ok(bad_request(message));
    }
    store.save(&encode(&rules)?)?;
    Ok(view(Source::Routes, &rules, 200))
}

fn post(
    req: &HttpRequest,
    store: &dyn RuleStore,
    load_config: &dyn Fn() -> Result<Config, Error>,
) -> Result<HttpResponse, Error> {
    let rule: Rule = match serde_json::from_slice(&req.body) {
        Ok(rule) => rule,
        Err(e) => return Ok(bad_request(format!("expected a JSON rule object: {e}"))),
    };
    if let Err(message) = rules::validate(std::slice::from_ref(&rule)) {
        return Ok(bad_request(message));
    }
    let mut config_rules = None;
    for _ in 0..APPEND_ATTEMPTS {
        let current = store.load()?;
        let mut rules = match &current {
            Some(bytes) => decode(bytes)?,
            None => match &config_rules {
                Some(rules) => Vec::clone(rules),
                None => config_rules.insert(load_config()?.rules).clone(),
            },
        };
        rules.push(rule.clone());
        if store.swap(current.as_deref(), &encode(&rules)?)? {
            return Ok(view(Source::Routes, &rules, 201));
        }
    }
    Err(Error::conflict(
        "the rules kept changing concurrently; retry",
    ))
}

fn delete(
    store: &dyn RuleStore,
    load_config: &dyn Fn() -> Result<Config, Error>,
) -> Result<HttpResponse, Error> {
    store.remove()?;
    Ok(view(Source::Config, &load_config()?.rules, 200))
}

/// Host errors that describe the request become JSON responses; the rest (permission,
/// availability, internal errors) propagate for the host to log and answer.
fn host_error_response(e: Error) -> Result<HttpResponse, Error> {
    let status = match &e {
        Error::Invalid(_) => 400,
        Error::NotFound(_) => 404,
        Error::Conflict(_) => 409,
        Error::TooLarge(_) => 413,
        Error::QuotaExceeded(_) => 429,
        _ => return Err(e),
    };
    Ok(HttpResponse::json_error(status, e.code(), e.message()))
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use plaza_sdk::Header;
    use serde_json::{Value, json};

    use super::*;
    use crate::rules::MatchKind;

    #[derive(Default)]
    struct MemStore {
        value: RefCell<Option<Vec<u8>>>,
        /// Swaps to fail before succeeding, to simulate concurrent writers.
        lose_races: Cell<usize>,
    }

    impl RuleStore for MemStore {
        fn load(&self) -> Result<Option<Vec<u8>>, Error> {
            Ok(self.value.borrow().clone())
        }
        fn save(&self, json: &[u8]) -> Result<(), Error> {
            *self.value.borrow_mut() = Some(json.to_vec());
            Ok(())
        }
        fn swap(&self, expected: Option<&[u8]>, json: &[u8]) -> Result<bool, Error> {
            if self.lose_races.get() > 0 {
                self.lose_races.set(self.lose_races.get() - 1);
                return Ok(false);
            }
            let mut value = self.value.borrow_mut();
            if value.as_deref() != expected {
                return Ok(false);
            }
            *value = Some(json.to_vec());
            Ok(true)
        }
        fn remove(&self) -> Result<bool, Error> {
            Ok(self.value.borrow_mut().take().is_some())
        }
    }

    fn config() -> Result<Config, Error> {
        Ok(Config {
            rules: vec![Rule {
                keyword: "hello".into(),
                kind: MatchKind::Exact,
                reply: "Hi there".into(),
                priority: 0,
            }],
            follow_reply: None,
            default_reply: None,
        })
    }

    fn request(method: &str, path: &str, body: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: vec![Header {
                name: "content-type".into(),
                value: "application/json".into(),
            }],
            body: body.as_bytes().to_vec(),
        }
    }

    fn call(
        store: &MemStore,
        operator: bool,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, Value) {
        let resp = handle(operator, &request(method, path, body), store, &config).unwrap();
        let json = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        (resp.status, json)
    }

    #[test]
    fn get_falls_back_to_config() {
        let store = MemStore::default();
        let (status, body) = call(&store, false, "GET", "/rules", "");
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"source":"config","rules":[{"keyword":"hello","match":"exact","reply":"Hi there","priority":0}]})
        );
    }

    #[test]
    fn put_replaces_and_get_reports_routes() {
        let store = MemStore::default();
        let (status, body) = call(
            &store,
            true,
            "PUT",
            "/rules",
            r#"[{"keyword":"a","reply":"b"},{"keyword":"c","match":"regex","reply":"d","priority":2}]"#,
        );
        assert_eq!(status, 200);
        assert_eq!(body["source"], "routes");
        let (status, body) = call(&store, false, "GET", "/rules/", "");
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"source":"routes","rules":[
                {"keyword":"a","match":"contains","reply":"b","priority":0},
                {"keyword":"c","match":"regex","reply":"d","priority":2}]})
        );
        let stored = stored_rules(&store).unwrap().unwrap();
        assert_eq!(stored.len(), 2);
    }

    #[test]
    fn empty_stored_list_still_supersedes_config() {
        let store = MemStore::default();
        assert_eq!(call(&store, true, "PUT", "/rules", "[]").0, 200);
        assert_eq!(
            call(&store, false, "GET", "/rules", "").1,
            json!({"source":"routes","rules":[]})
        );
    }

    #[test]
    fn post_appends_to_effective_rules() {
        let store = MemStore::default();
        let (status, body) = call(
            &store,
            true,
            "POST",
            "/rules",
            r#"{"keyword":"bye","reply":"Later"}"#,
        );
        assert_eq!(status, 201);
        assert_eq!(body["source"], "routes");
        let rules = body["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2, "config rule kept, new one appended: {body}");
        assert_eq!(rules[0]["keyword"], "hello");
        assert_eq!(rules[1]["keyword"], "bye");
        let (_, body) = call(
            &store,
            true,
            "POST",
            "/rules",
            r#"{"keyword":"x","reply":"y"}"#,
        );
        assert_eq!(body["rules"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn post_retries_lost_races_then_conflicts() {
        let store = MemStore::default();
        store.lose_races.set(2);
        assert_eq!(
            call(
                &store,
                true,
                "POST",
                "/rules",
                r#"{"keyword":"a","reply":"b"}"#
            )
            .0,
            201
        );
        store.lose_races.set(APPEND_ATTEMPTS);
        let (status, body) = call(
            &store,
            true,
            "POST",
            "/rules",
            r#"{"keyword":"a","reply":"b"}"#,
        );
        assert_eq!(status, 409);
        assert_eq!(body["error"]["code"], "conflict");
    }

    #[test]
    fn delete_goes_back_to_config() {
        let store = MemStore::default();
        call(&store, true, "PUT", "/rules", "[]");
        let (status, body) = call(&store, true, "DELETE", "/rules", "");
        assert_eq!(status, 200);
        assert_eq!(body["source"], "config");
        assert!(store.value.borrow().is_none());
        assert_eq!(
            call(&store, false, "GET", "/rules", "").1["source"],
            "config"
        );
    }

    #[test]
    fn mutations_need_operator() {
        let store = MemStore::default();
        for method in ["PUT", "POST", "DELETE"] {
            let (status, body) = call(&store, false, method, "/rules", "[]");
            assert_eq!(status, 403, "{method}");
            assert_eq!(body["error"]["code"], "forbidden");
            assert!(body["error"]["message"].is_string());
        }
        assert!(store.value.borrow().is_none());
    }

    #[test]
    fn bad_input_is_400() {
        let store = MemStore::default();
        for (method, body) in [
            ("PUT", "not json"),
            ("PUT", r#"{"keyword":"a","reply":"b"}"#),
            ("PUT", r#"[{"keyword":"a","match":"fuzzy","reply":"b"}]"#),
            ("PUT", r#"[{"keyword":"(","match":"regex","reply":"b"}]"#),
            ("PUT", r#"[{"keyword":"","reply":"b"}]"#),
            ("PUT", r#"[{"keyword":"a"}]"#),
            ("PUT", r#"[{"keyword":"a","reply":"b","mtach":"exact"}]"#),
            ("POST", r#"[{"keyword":"a","reply":"b"}]"#),
            ("POST", r#"{"keyword":"[","match":"regex","reply":"b"}"#),
        ] {
            let (status, json) = call(&store, true, method, "/rules", body);
            assert_eq!(status, 400, "{method} {body}: {json}");
            assert_eq!(json["error"]["code"], "invalid");
            assert!(
                json["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
        assert!(
            store.value.borrow().is_none(),
            "nothing stored on bad input"
        );
    }

    #[test]
    fn unknown_path_404_and_wrong_method_405() {
        let store = MemStore::default();
        let (status, body) = call(&store, true, "GET", "/nope", "");
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(call(&store, true, "GET", "/", "").0, 404);
        let resp = handle(true, &request("PATCH", "/rules", ""), &store, &config).unwrap();
        assert_eq!(resp.status, 405);
        assert_eq!(resp.header("Allow"), Some("GET, PUT, POST, DELETE"));
    }

    #[test]
    fn lowercase_method_is_accepted() {
        let store = MemStore::default();
        assert_eq!(call(&store, false, "get", "/rules", "").0, 200);
    }

    #[test]
    fn too_large_from_host_becomes_413() {
        struct Full;
        impl RuleStore for Full {
            fn load(&self) -> Result<Option<Vec<u8>>, Error> {
                Ok(None)
            }
            fn save(&self, _: &[u8]) -> Result<(), Error> {
                Err(Error::too_large("value exceeds 64 KiB"))
            }
            fn swap(&self, _: Option<&[u8]>, _: &[u8]) -> Result<bool, Error> {
                Err(Error::unavailable("down"))
            }
            fn remove(&self) -> Result<bool, Error> {
                Ok(false)
            }
        }
        let resp = handle(true, &request("PUT", "/rules", "[]"), &Full, &config).unwrap();
        assert_eq!(resp.status, 413);
        let err = handle(
            true,
            &request("POST", "/rules", r#"{"keyword":"a","reply":"b"}"#),
            &Full,
            &config,
        )
        .unwrap_err();
        assert_eq!(err.code(), "unavailable");
    }
}
