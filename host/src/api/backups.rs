//! Admin routes of online backups (数据备份): take one now and download it, list the kept ones.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::error::{ApiBytes, ApiResult};
use crate::error::PlazaError;
use crate::storage::backup;

pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new().route("/system/backups", get(list).post(create))
}

/// Bytes read from the backup file per chunk of the response.
const CHUNK: usize = 256 << 10;

/// `POST /system/backups`: takes a consistent backup while the server keeps serving, keeps it in
/// the backup directory, and streams it back (`application/octet-stream`). Headers carry its name,
/// size and SHA-256; the file checks itself (see `storage::backup`).
///
/// The route takes no body; one sent anyway is read (and ignored) before answering, so that the
/// connection stays usable for the client's next request.
async fn create(State(s): State<AppState>, _body: ApiBytes) -> ApiResult<Response> {
    let (path, manifest) = s.platform.backup().await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| PlazaError::Unavailable(format!("cannot read the backup: {e}")))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let headers = resp.headers_mut();
    let put = |headers: &mut axum::http::HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = v.parse() {
            headers.insert(k, v);
        }
    };
    put(
        headers,
        header::CONTENT_TYPE.as_str(),
        "application/octet-stream".into(),
    );
    put(
        headers,
        header::CONTENT_DISPOSITION.as_str(),
        format!("attachment; filename=\"{name}\""),
    );
    if let Some(bytes) = manifest.bytes {
        put(headers, header::CONTENT_LENGTH.as_str(), bytes.to_string());
    }
    put(headers, "x-plaza-backup-name", name);
    if let Some(sha) = &manifest.sha256 {
        put(headers, "x-plaza-backup-sha256", sha.clone());
    }
    Ok(resp)
}

/// `GET /system/backups`: the backups kept in the backup directory, oldest first.
async fn list(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let dir = s.platform.backup_dir.clone();
    let backups = tokio::task::spawn_blocking(move || backup::list(&dir))
        .await
        .map_err(|e| PlazaError::internal(format!("listing task failed: {e}")))??;
    Ok(Json(json!({
        "dir": s.platform.backup_dir.display().to_string(),
        "backups": backups,
    })))
}
