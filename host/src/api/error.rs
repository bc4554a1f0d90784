//! How errors leave the HTTP API: a status and `{"error":{"code","message"}}`, for every failure
//! including malformed JSON, query strings and path parameters, unknown routes and methods.
//!
//! axum's own extractors answer their rejections in plain text. Handlers therefore take the
//! `Api*` wrappers below instead (`ApiJson`, `ApiQuery`, `ApiPath`, `ApiBytes`, `ApiMultipart`),
//! which turn every rejection into the typed body with the status it deserves.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{ErrorBody, PlazaError};

/// A `PlazaError` as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub PlazaError);

impl From<PlazaError> for ApiError {
    fn from(e: PlazaError) -> Self {
        ApiError(e)
    }
}

pub fn status_of(e: &PlazaError) -> StatusCode {
    match e {
        PlazaError::NotFound(_) => StatusCode::NOT_FOUND,
        PlazaError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        PlazaError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        PlazaError::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
        PlazaError::OutsideWindow(_) | PlazaError::Conflict(_) => StatusCode::CONFLICT,
        PlazaError::Invalid(_) => StatusCode::BAD_REQUEST,
        PlazaError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        PlazaError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        PlazaError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self.0, PlazaError::Internal(_)) {
            tracing::error!(error = %self.0, "internal error answering a request");
        }
        (status_of(&self.0), Json(ErrorBody::from(&self.0))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `axum::Json` whose rejections (bad syntax, wrong fields, wrong content type, too large) are
/// typed 4xx error bodies instead of plain text.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(ApiError(json_rejection(rejection))),
        }
    }
}

fn json_rejection(r: JsonRejection) -> PlazaError {
    match r {
        JsonRejection::JsonDataError(e) => {
            PlazaError::invalid(format!("request body: {}", e.body_text()))
        }
        JsonRejection::JsonSyntaxError(e) => {
            PlazaError::invalid(format!("request body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => {
            PlazaError::invalid("request body must be JSON with Content-Type: application/json")
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            PlazaError::TooLarge("request body exceeds the limit".into())
        }
        other => PlazaError::invalid(other.body_text()),
    }
}

/// Any other rejection of an extractor, by its status: too large, a server-side bug, or bad input
/// described in axum's words.
fn rejected(what: &str, status: StatusCode, text: String) -> PlazaError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        PlazaError::TooLarge(format!("{what} exceeds the limit"))
    } else if status.is_server_error() {
        PlazaError::internal(format!("{what}: {text}"))
    } else {
        PlazaError::invalid(format!("{what}: {text}"))
    }
}

/// `axum::extract::Query` with typed rejections (`?limit=abc` is `invalid`, naming the field).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(ApiError(rejected(
                "query string",
                r.status(),
                r.body_text(),
            ))),
        }
    }
}

/// `axum::extract::Path` with typed rejections (e.g. a segment that is not UTF-8 once decoded).
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(ApiError(rejected("path", r.status(), r.body_text()))),
        }
    }
}

/// The raw body with typed rejections (too large is `too_large`, 413).
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(ApiBytes(b)),
            Err(r) => Err(ApiError(rejected(
                "request body",
                r.status(),
                r.body_text(),
            ))),
        }
    }
}

/// `axum::extract::Multipart` with typed rejections (no or a bad boundary is `invalid`).
pub struct ApiMultipart(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Multipart::from_request(req, state).await {
            Ok(m) => Ok(ApiMultipart(m)),
            Err(r) => Err(ApiError(rejected("upload", r.status(), r.body_text()))),
        }
    }
}

/// A failure while reading a multipart body: 413 when the body passed the route's limit.
pub fn multipart_error(e: axum::extract::multipart::MultipartError) -> PlazaError {
    rejected("upload", e.status(), e.body_text())
}

pub async fn not_found() -> ApiError {
    ApiError(PlazaError::not_found("no such route"))
}

/// A known route asked with a method it does not serve. axum still adds the `Allow` header.
pub async fn method_not_allowed(method: axum::http::Method) -> Response {
    let body = serde_json::json!({ "error": {
        "code": METHOD_NOT_ALLOWED,
        "message": format!("this route does not serve {method}; see the Allow header"),
    }});
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

/// The error code of a 405. Not a `PlazaError`: only the router produces it, never the platform.
pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
