//! Routing for a plugin's own HTTP routes (`/p/{account}/{plugin}/…`), so that `on_http` is one
//! table instead of a hand-written `match` on paths, methods and `ctx.operator` in every plugin.
//!
//! Every route names who may call it ([`Access`]) — there is no default, so a route cannot be
//! left open by forgetting a check. Handlers return `Result<HttpResponse>`; an `Err` becomes the
//! conventional JSON error body with the status that matches its code ([`error_response`]), so
//! `?` works in handlers. Unknown paths answer `404`, known paths with another method `405` with
//! an `Allow` header.
//!
//! ```ignore
//! use plaza_sdk::prelude::*;
//! use plaza_sdk::router::{Access, Router};
//!
//! fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
//!     Router::new()
//!         .get("/polls/{id}", Access::Public, |r| show_poll(r.param("id")))
//!         .post("/polls/{id}/vote", Access::Follower, |r| vote(r.param("id"), r.follower()?, r.json()?))
//!         .post("/polls", Access::Operator, |r| create_poll(r.json()?))
//!         .handle(ctx, req)
//! }
//! ```
//!
//! Patterns are `/`-separated literals and captures: `{name}` captures one segment (percent-
//! decoded), a final `{*name}` captures the rest of the path. A trailing `/` is ignored.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;

use crate::{CallContext, Error, HttpRequest, HttpResponse, Openid};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (pages, webhooks that authenticate themselves, e.g. by an HMAC header).
    Public,
    /// A follower who opened a signed link ([`links`](crate::links)): `ctx.follower` is set.
    /// Others get `401` with a message that says to open the link the account sent.
    Follower,
    /// A holder of an operator token for this account (`ctx.operator`); others get `403`.
    Operator,
    /// A follower through a signed link, or an operator.
    FollowerOrOperator,
}

/// The request as a handler sees it: the call context, the HTTP request and the captures.
pub struct Request<'a> {
    /// Whom the call serves.
    pub ctx: &'a CallContext,
    /// The request; `path` is relative to the plugin.
    pub http: &'a HttpRequest,
    params: Vec<(String, String)>,
}

impl Request<'_> {
    /// The capture `name` of the route's pattern (`""` if the pattern has no such capture, which
    /// is a bug in the route table, not bad input).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The capture `name` parsed (e.g. a number); [`Error::Invalid`] naming it if it does not parse.
    pub fn param_as<T: core::str::FromStr>(&self, name: &str) -> Result<T, Error> {
        let raw = self.param(name);
        raw.parse()
            .map_err(|_| Error::invalid(format!("{name} {raw:?} is not valid here")))
    }

    /// The first query-string parameter `name`, percent-decoded (`+` is a space).
    pub fn query(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.http.query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Every query-string parameter, in order, percent-decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.http.query.as_bytes())
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect()
    }

    /// The body parsed as JSON; [`Error::Invalid`] with serde's message (a `400`) if it is not.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.http.json()
    }

    /// The body as `application/x-www-form-urlencoded` pairs (an HTML form's `POST`), in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.http.body)
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect()
    }

    /// The follower who opened the signed link; [`Error::PermissionDenied`] without one (only
    /// reachable on [`Access::Public`] or [`Access::FollowerOrOperator`] routes).
    pub fn follower(&self) -> Result<&Openid, Error> {
        self.ctx.follower.as_ref().ok_or_else(|| {
            Error::permission_denied("this page needs the link the account sent you")
        })
    }

    /// The account this request is for.
    pub fn account(&self) -> &str {
        &self.ctx.account.id
    }
}

type Handler<'h> = Box<dyn Fn(&Request<'_>) -> Result<HttpResponse, Error> + 'h>;

struct Route<'h> {
    method: &'static str,
    pattern: Vec<Segment>,
    access: Access,
    handler: Handler<'h>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Capture(String),
    Rest(String),
}

/// A table of routes; see the [module docs](self).
#[derive(Default)]
pub struct Router<'h> {
    routes: Vec<Route<'h>>,
}

impl<'h> Router<'h> {
    /// An empty table: every request answers `404`.
    pub fn new() -> Self {
        Router { routes: Vec::new() }
    }

    /// Adds a route for `method` (upper case, e.g. `"GET"`).
    pub fn route(
        mut self,
        method: &'static str,
        pattern: &str,
        access: Access,
        handler: impl Fn(&Request<'_>) -> Result<HttpResponse, Error> + 'h,
    ) -> Self {
        self.routes.push(Route {
            method,
            pattern: parse_pattern(pattern),
            access,
            handler: Box::new(handler),
        });
        self
    }

    /// A `GET` route (also answers `HEAD`).
    pub fn get(
        self,
        pattern: &str,
        access: Access,
        handler: impl Fn(&Request<'_>) -> Result<HttpResponse, Error> + 'h,
    ) -> Self {
        self.route("GET", pattern, access, handler)
    }

    /// A `POST` route.
    pub fn post(
        self,
        pattern: &str,
        access: Access,
        handler: impl Fn(&Request<'_>) -> Result<HttpResponse, Error> + 'h,
    ) -> Self {
        self.route("POST", pattern, access, handler)
    }

    /// A `PUT` route.
    pub fn put(
        self,
        pattern: &str,
        access: Access,
        handler: impl Fn(&Request<'_>) -> Result<HttpResponse, Error> + 'h,
    ) -> Self {
        self.route("PUT", pattern, access, handler)
    }

    /// A `PATCH` route.
    pub fn patch(
        self,
        pattern: &str,
        access: Access,
        handler: impl Fn(&Request<'_>) -> Result<HttpResponse, Error> + 'h,
    ) -> Self {
        self.route("PATCH", pattern, access, handler)
    }

    /// A `DELETE` route.
    pub fn delete(
        self,
        pattern: &str,
        access: Access,
        handler: impl Fn(&Request<'_>) -> Result<HttpResponse, Error> + 'h,
    ) -> Self {
        self.route("DELETE", pattern, access, handler)
    }

    /// Answers `req`: the first route whose pattern and method match runs, after its access
    /// check. Never returns `Err`: handler errors become JSON error responses.
    pub fn handle(&self, ctx: &CallContext, req: &HttpRequest) -> Result<HttpResponse, Error> {
        let segments = split_path(&req.path);
        let method = req.method.to_ascii_uppercase();
        let wanted = if method == "HEAD" { "GET" } else { &method };
        let mut allowed = BTreeSet::new();
        for route in &self.routes {
            let Some(params) = match_pattern(&route.pattern, &segments) else {
                continue;
            };
            if route.method != wanted {
                allowed.insert(route.method);
                continue;
            }
            if let Some(refusal) = refuse(route.access, ctx) {
                return Ok(refusal);
            }
            let request = Request {
                ctx,
                http: req,
                params,
            };
            let mut response = (route.handler)(&request).unwrap_or_else(|e| error_response(&e));
            if method == "HEAD" {
                response.body.clear();
            }
            return Ok(response);
        }
        if allowed.is_empty() {
            let message = format!("no route for {}", req.path);
            return Ok(HttpResponse::json_error(404, "not_found", &message));
        }
        let allow = allowed.into_iter().collect::<Vec<_>>().join(", ");
        let message = format!("{} is not allowed on {}; use {allow}", req.method, req.path);
        Ok(
            HttpResponse::json_error(405, "method_not_allowed", &message)
                .with_header("allow", allow),
        )
    }
}

fn refuse(access: Access, ctx: &CallContext) -> Option<HttpResponse> {
    let follower = ctx.follower.is_some();
    let ok = match access {
        Access::Public => true,
        Access::Follower => follower,
        Access::Operator => ctx.operator,
        Access::FollowerOrOperator => follower || ctx.operator,
    };
    if ok {
        return None;
    }
    Some(match access {
        Access::Operator => HttpResponse::json_error(
            403,
            "forbidden",
            "this route needs an operator token for this account",
        ),
        _ => HttpResponse::json_error(
            401,
            "unauthorized",
            "open this page from the link the account sent you (it identifies you)",
        ),
    })
}

/// The JSON error response for a platform error, with the HTTP status that matches its code:
/// `invalid` 400, `permission_denied` 403, `not_found` 404, `conflict` and `outside_window` 409,
/// `too_large` 413, `quota_exceeded` 429, `unavailable` 503, `internal` 500.
pub fn error_response(error: &Error) -> HttpResponse {
    let status = match error {
        Error::Invalid(_) => 400,
        Error::PermissionDenied(_) => 403,
        Error::NotFound(_) => 404,
        Error::Conflict(_) | Error::OutsideWindow(_) => 409,
        Error::TooLarge(_) => 413,
        Error::QuotaExceeded(_) => 429,
        Error::Unavailable(_) => 503,
        Error::Internal(_) => 500,
    };
    HttpResponse::json_error(status, error.code(), error.message())
}

fn parse_pattern(pattern: &str) -> Vec<Segment> {
    split_path(pattern)
        .into_iter()
        .map(|s| {
            if let Some(name) = s.strip_prefix("{*").and_then(|s| s.strip_suffix('}')) {
                Segment::Rest(name.to_string())
            } else if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Segment::Capture(name.to_string())
            } else {
                Segment::Literal(s)
            }
        })
        .collect()
}

fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn match_pattern(pattern: &[Segment], path: &[String]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (i, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Rest(name) => {
                let rest: Vec<String> = path.get(i..)?.iter().map(|s| decode(s)).collect();
                params.push((name.clone(), rest.join("/")));
                return Some(params);
            }
            Segment::Literal(lit) => {
                if path.get(i)? != lit {
                    return None;
                }
            }
            Segment::Capture(name) => params.push((name.clone(), decode(path.get(i)?))),
        }
    }
    (path.len() == pattern.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Account, AccountKind};

    fn ctx(follower: Option<&str>, operator: bool) -> CallContext {
        CallContext {
            account: Account {
                id: "acme".into(),
                name: "Acme".into(),
                kind: AccountKind::Service,
                verified: true,
                timezone: "Asia/Shanghai".into(),
            },
            plugin: "p".into(),
            plugin_version: "0.1.0".into(),
            follower: follower.map(str::to_string),
            operator,
            caller: None,
        }
    }

    fn req(method: &str, path: &str, query: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn router() -> Router<'static> {
        Router::new()
            .get("/polls/{id}", Access::Public, |r| {
                Ok(HttpResponse::text(
                    200,
                    format!("{}|{:?}", r.param("id"), r.query("x")),
                ))
            })
            .post("/polls/{id}/vote", Access::Follower, |r| {
                Ok(HttpResponse::text(200, r.follower()?.clone()))
            })
            .post("/polls", Access::Operator, |_| {
                Err(Error::conflict("exists"))
            })
            .get("/files/{*rest}", Access::Public, |r| {
                Ok(HttpResponse::text(200, r.param("rest").to_string()))
            })
    }

    fn body(r: &HttpResponse) -> String {
        String::from_utf8(r.body.clone()).unwrap()
    }

    #[test]
    fn captures_are_decoded_and_queries_parsed() {
        let r = router()
            .handle(&ctx(None, false), &req("GET", "/polls/a%20b/", "x=1+2%21"))
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(body(&r), "a b|Some(\"1 2!\")");
        let r = router()
            .handle(&ctx(None, false), &req("GET", "/files/a/b%2Fc", ""))
            .unwrap();
        assert_eq!(body(&r), "a/b/c");
    }

    #[test]
    fn access_is_checked_before_the_handler() {
        let r = router()
            .handle(&ctx(None, false), &req("POST", "/polls/1/vote", ""))
            .unwrap();
        assert_eq!(r.status, 401);
        let r = router()
            .handle(&ctx(Some("o1"), false), &req("POST", "/polls/1/vote", ""))
            .unwrap();
        assert_eq!((r.status, body(&r).as_str()), (200, "o1"));
        let r = router()
            .handle(&ctx(Some("o1"), false), &req("POST", "/polls", ""))
            .unwrap();
        assert_eq!(r.status, 403);
    }

    #[test]
    fn handler_errors_become_typed_json() {
        let r = router()
            .handle(&ctx(None, true), &req("POST", "/polls", ""))
            .unwrap();
        assert_eq!(r.status, 409);
        assert!(body(&r).contains("\"code\":\"conflict\""));
    }

    #[test]
    fn unknown_paths_and_methods() {
        let r = router()
            .handle(&ctx(None, true), &req("GET", "/nope", ""))
            .unwrap();
        assert_eq!(r.status, 404);
        let r = router()
            .handle(&ctx(None, true), &req("DELETE", "/polls/1", ""))
            .unwrap();
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET"));
        let r = router()
            .handle(&ctx(None, true), &req("HEAD", "/polls/1", ""))
            .unwrap();
        assert_eq!((r.status, r.body.len()), (200, 0));
    }
}
