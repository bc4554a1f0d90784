//! How errors leave the HTTP API: a status and `{"error":{"code","message"}}`, for every failure
//! including malformed JSON and unknown routes.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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

pub async fn not_found() -> ApiError {
    ApiError(PlazaError::not_found("no such route"))
}
