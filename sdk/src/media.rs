//! Images, audio, video and PDFs stored and served by the host (`/media/{account}/{media-id}`),
//! addressed by the hash of their bytes. Needs `media`. Messages refer to them by id
//! ([`Content::Image`](crate::Content::Image)).

use crate::__private::plaza::platform::media as wit;
use crate::Error;

pub use wit::{Blob, Stored};

/// Stores `bytes`; the host checks that they really are `content_type` (one of the allowed
/// image, audio, video or PDF types) and counts them against the account's media quota.
/// Storing the same bytes again returns the same id.
pub fn put(bytes: &[u8], content_type: &str) -> Result<Stored, Error> {
    wit::put(bytes, content_type)
}

/// The stored bytes and their content type.
pub fn get(media_id: &str) -> Result<Blob, Error> {
    wit::get(media_id)
}

/// Removes a blob; `true` if it existed.
pub fn delete(media_id: &str) -> Result<bool, Error> {
    wit::delete(media_id)
}
