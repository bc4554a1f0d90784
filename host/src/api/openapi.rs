//! `GET /api/openapi.json`: an OpenAPI 3.0 document of the admin API, generated from the route
//! table itself ([`authz::RULES`], which a test keeps equal to the registered routes), so a route
//! cannot exist without being documented, nor be documented without existing.
//!
//! Every operation carries its path parameters, the bearer-token security scheme, who may call
//! it (from its authorization rule), a request body where the method takes one (JSON, except the
//! two uploads), and every error status the host answers with the one error shape,
//! `{"error":{"code","message"}}`, whose codes are listed. Success bodies are JSON objects (or a
//! stream / raw bytes where noted); their fields are described in the handlers' docs and the
//! README rather than repeated here.

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::authz::{RULES, Rule};

/// The error codes the API answers with (`PlazaError::code` and the two routing errors).
pub const ERROR_CODES: &[&str] = &[
    "not_found",
    "permission_denied",
    "unauthorized",
    "quota_exceeded",
    "outside_window",
    "invalid",
    "too_large",
    "conflict",
    "unavailable",
    "internal",
    super::error::METHOD_NOT_ALLOWED,
];

/// Routes whose request body is not JSON: `(method, template, content type)`.
const RAW_BODIES: &[(&str, &str, &str)] = &[
    ("POST", "/plugins", "multipart/form-data"),
    (
        "POST",
        "/accounts/{account}/media",
        "application/octet-stream",
    ),
];

/// `POST` routes that take no body (one sent anyway is ignored).
const NO_BODY: &[(&str, &str)] = &[
    ("POST", "/system/backups"),
    ("POST", "/accounts/{account}/api-credentials"),
    ("POST", "/accounts/{account}/ingress-key"),
    ("POST", "/accounts/{account}/link-key/rotate"),
    ("POST", "/accounts/{account}/dead-letters/replay"),
    ("POST", "/accounts/{account}/dead-letters/{id}/replay"),
    ("POST", "/accounts/{account}/menu/publish"),
    ("POST", "/accounts/{account}/wechat/sync"),
    (
        "POST",
        "/accounts/{account}/service/conversations/{openid}/close",
    ),
];

/// Routes whose success answer is not a JSON document.
const STREAMS: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/accounts/{account}/followers/{openid}/messages/stream",
        "text/event-stream",
    ),
    // The backup file itself.
    ("POST", "/system/backups", "application/octet-stream"),
];

/// Error statuses every operation may answer, with what each means here.
const ERRORS: &[(u16, &str)] = &[
    (
        400,
        "Bad input: malformed JSON, unknown fields, a value out of range",
    ),
    (401, "No token, or a token the server does not know"),
    (
        403,
        "The token's role or accounts do not allow this, or its IP allow-list refuses the caller",
    ),
    (404, "No such account, record or route"),
    (405, "The route does not serve this method"),
    (
        409,
        "Conflicts with the current state (or outside the 48 h customer-service window)",
    ),
    (413, "The body or a value is too large"),
    (
        429,
        "A quota ran out, or too many failed sign-ins from this address (see Retry-After)",
    ),
    (500, "A bug: reported in the server's log"),
    (503, "Temporarily unavailable; retrying later may help"),
];

pub async fn document() -> impl IntoResponse {
    Json(openapi())
}

/// The document (also used by the tests).
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for (method, template, rule) in RULES {
        let entry = paths
            .entry(format!("/api/v1{template}"))
            .or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            map.insert(
                method.to_ascii_lowercase(),
                operation(method, template, *rule),
            );
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Plaza admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Accounts, followers, plugins, messaging and the operators' tools of a Plaza server. \
                Every request carries `Authorization: Bearer <token>` (the bootstrap admin token or one made with \
                `POST /api/v1/tokens`). Every error is `{\"error\":{\"code\",\"message\"}}` with the status listed per operation.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": { "type": "string", "enum": ERROR_CODES },
                                "message": { "type": "string" },
                                "resets_at": { "type": "integer", "description": "quota_exceeded: when the quota refills (ms since the epoch)" },
                            },
                        },
                    },
                },
            },
        },
        "security": [{ "bearer": [] }],
    })
}

fn operation(method: &str, template: &str, rule: Rule) -> Value {
    let family = template
        .trim_start_matches('/')
        .split('/')
        .find(|s| !s.starts_with('{') && *s != "accounts")
        .unwrap_or("accounts");
    let params: Vec<Value> = template
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({
                "name": name, "in": "path", "required": true,
                "schema": { "type": "string", "minLength": 1 },
            })
        })
        .collect();
    let mut responses = Map::new();
    let stream = STREAMS
        .iter()
        .find(|(m, t, _)| *m == method && *t == template);
    let success = |description: &str| match stream {
        Some((_, _, content_type)) => {
            json!({ "description": description, "content": { *content_type: { "schema": { "type": "string" } } } })
        }
        None => {
            json!({ "description": description, "content": { "application/json": { "schema": { "type": "object" } } } })
        }
    };
    responses.insert("200".into(), success("OK"));
    if method != "GET" {
        responses.insert("201".into(), success("Created"));
        responses.insert("204".into(), json!({ "description": "Done; no body" }));
    }
    for (status, description) in ERRORS {
        responses.insert(
            status.to_string(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            }),
        );
    }
    let mut op = json!({
        "operationId": operation_id(method, template),
        "summary": format!("{method} {template}"),
        "description": who_may(rule),
        "tags": [family],
        "parameters": params,
        "responses": responses,
    });
    let takes_body = matches!(method, "POST" | "PUT" | "PATCH")
        && !NO_BODY.iter().any(|(m, t)| *m == method && *t == template);
    if takes_body {
        let content = match RAW_BODIES
            .iter()
            .find(|(m, t, _)| *m == method && *t == template)
        {
            Some((_, _, "multipart/form-data")) => json!({ "multipart/form-data": { "schema": {
                "type": "object",
                "properties": {
                    "manifest": { "type": "string", "description": "plugin.toml" },
                    "wasm": { "type": "string", "format": "binary" },
                },
            } } }),
            Some((_, _, content_type)) => {
                json!({ *content_type: { "schema": { "type": "string", "format": "binary" } } })
            }
            None => json!({ "application/json": { "schema": { "type": "object" } } }),
        };
        op["requestBody"] = json!({ "required": false, "content": content });
    }
    op
}

fn operation_id(method: &str, template: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for seg in template.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.push_str(
            &seg.trim_start_matches('{')
                .trim_end_matches('}')
                .replace('-', "_"),
        );
    }
    id
}

fn who_may(rule: Rule) -> &'static str {
    match rule {
        Rule::Anyone => "Any valid token.",
        Rule::Admin => "Platform admins only.",
        Rule::AccountList => "Any valid token; operators and analysts see their own accounts.",
        Rule::Account => "Admins; operators of this account; analysts of this account (GET only).",
        Rule::OwnCheck => "The admin token, or the account's ingress key (X-Plaza-Ingress-Key).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_exceptions_are_real_routes() {
        for (method, template) in NO_BODY
            .iter()
            .copied()
            .chain(RAW_BODIES.iter().map(|(m, t, _)| (*m, *t)))
            .chain(STREAMS.iter().map(|(m, t, _)| (*m, *t)))
        {
            assert!(
                RULES.iter().any(|(m, t, _)| *m == method && *t == template),
                "{method} {template} is not a route"
            );
        }
    }

    #[test]
    fn every_route_is_documented_with_its_parameters_and_the_error_shape() {
        let doc = openapi();
        let paths = doc["paths"].as_object().unwrap();
        for (method, template, _) in RULES {
            let op = &paths[&format!("/api/v1{template}")][method.to_ascii_lowercase()];
            assert!(op.is_object(), "{method} {template} is missing");
            let braces = template.matches('{').count();
            assert_eq!(
                op["parameters"].as_array().unwrap().len(),
                braces,
                "{template}"
            );
            assert_eq!(
                op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/Error"
            );
        }
        // Operation ids are unique.
        let mut ids: Vec<String> = paths
            .values()
            .flat_map(|p| p.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap().to_string())
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(n, RULES.len());
    }
}
