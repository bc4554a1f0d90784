//! The operators' web console: one page and its assets, embedded in the binary and served at `/`.
//!
//! Plain HTML, CSS and JavaScript modules, no build step: what is in `assets/` is what the
//! browser gets. The page holds no data and needs no token; everything it shows comes from the
//! admin API under `/api/v1`, called with the bearer token the operator signs in with (kept in
//! the tab's `sessionStorage`). Navigation is by URL fragment (`/#/accounts/demo/features`), so
//! the server only ever serves `/` and the files below.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::api::AppState;
use crate::api::error::{ApiPath, ApiResult};
use crate::error::PlazaError;

/// `(file name, content type, contents)` of every asset under `/console/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/api.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/i18n.js"),
    ),
    (
        "schema_form.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/schema_form.js"),
    ),
    (
        "pages.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/pages.js"),
    ),
    (
        "simulator.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/simulator.js"),
    ),
    (
        "manage.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/manage.js"),
    ),
    (
        "service.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/service.js"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/ui.js"),
    ),
    ("icon.svg", "image/svg+xml", include_str!("assets/icon.svg")),
];

const INDEX: &str = include_str!("assets/index.html");

/// The page's own policy: scripts and styles only from this server (no inline script), API
/// calls only to it; images (media, QR codes in messages) from anywhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data: http: https:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{file}", get(asset))
}

async fn index() -> Response {
    respond("text/html; charset=utf-8", INDEX)
}

async fn asset(ApiPath(file): ApiPath<String>) -> ApiResult<Response> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| PlazaError::not_found(format!("console asset {file:?}")))?;
    Ok(respond(content_type, body))
}

fn respond(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Assets change with the binary: revalidate rather than run an old console against a new
    // server.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_assets_that_are_served() {
        for (at, _) in INDEX.match_indices("/console/") {
            let rest = &INDEX[at + "/console/".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect();
            assert!(
                ASSETS.iter().any(|(n, _, _)| *n == name),
                "index.html loads /console/{name}, which is not served"
            );
        }
        // Every module imported by a module is served too.
        for (file, _, body) in ASSETS {
            for (at, _) in body.match_indices("from \"./") {
                let rest = &body[at + "from \"./".len()..];
                let name: String = rest.chars().take_while(|c| *c != '"').collect();
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == name),
                    "{file} imports ./{name}, which is not served"
                );
            }
        }
    }
}
