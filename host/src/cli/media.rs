//! `plaza media …`: an account's media (images, audio, video, PDF): upload, list, show, delete,
//! quota.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{Value, json};

use super::topics::query_string;
use super::{Remote, seg};
use crate::error::{PlazaError, Result};
use crate::media::{MAX_BLOB_BYTES, check_media_id, content_type};

#[derive(Subcommand, Debug)]
pub enum MediaCmd {
    /// Upload a file; prints its media id and public URL.
    Upload {
        account: String,
        file: PathBuf,
        /// The file's content type (default: from its extension, e.g. .png → image/png).
        #[arg(long = "type", value_name = "CONTENT_TYPE")]
        content_type: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the account's media, with its usage and quota.
    List {
        account: String,
        /// The last media id of the previous page.
        #[arg(long)]
        cursor: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one blob's metadata and URL.
    Show {
        account: String,
        media_id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a blob (frees its bytes from the quota; its URL then answers 404).
    Delete {
        account: String,
        media_id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show the account's media usage and quota, or set the quota in BYTES (or back to the
    /// server's default with --default).
    Quota {
        account: String,
        #[arg(conflicts_with = "default")]
        bytes: Option<u64>,
        /// Use the server's default quota for this account.
        #[arg(long)]
        default: bool,
        #[command(flatten)]
        remote: Remote,
    },
}

impl MediaCmd {
    /// Runs the command; `progress` shows a bar while uploading (a person at a terminal).
    pub fn run(self, progress: bool) -> Result<Value> {
        let base = |account: &str| format!("/accounts/{}/media", seg(account));
        match self {
            MediaCmd::Upload {
                account,
                file,
                content_type,
                remote,
            } => {
                let name = file.display().to_string();
                let content_type = match content_type {
                    Some(t) => t,
                    None => content_type::for_extension(&name)
                        .ok_or_else(|| {
                            PlazaError::invalid(format!(
                                "cannot tell the content type of {name} from its name; pass \
                                 --type (allowed are {})",
                                content_type::ALLOWED_SUMMARY
                            ))
                        })?
                        .to_string(),
                };
                let size = std::fs::metadata(&file)
                    .map_err(|e| PlazaError::invalid(format!("cannot read {name}: {e}")))?
                    .len();
                if size > MAX_BLOB_BYTES {
                    return Err(PlazaError::TooLarge(format!(
                        "{name} is {size} bytes; the limit per blob is {MAX_BLOB_BYTES} bytes (20 MiB)"
                    )));
                }
                // Exactly the announced length is sent even if the file grows meanwhile.
                let mut reader = std::io::Read::take(
                    std::fs::File::open(&file)
                        .map_err(|e| PlazaError::invalid(format!("cannot read {name}: {e}")))?,
                    size,
                );
                let client = remote.client()?;
                if !progress {
                    return client.post_reader(&base(&account), &content_type, size, &mut reader);
                }
                let bar = super::output::bytes_bar(size);
                let answer = client.post_reader(
                    &base(&account),
                    &content_type,
                    size,
                    &mut bar.wrap_read(reader),
                );
                bar.finish_and_clear();
                answer
            }
            MediaCmd::List {
                account,
                cursor,
                limit,
                remote,
            } => remote.client()?.get(&format!(
                "{}{}",
                base(&account),
                query_string(&[("cursor", cursor), ("limit", limit.map(|l| l.to_string()))])
            )),
            MediaCmd::Show {
                account,
                media_id,
                remote,
            } => {
                check_media_id(&media_id)?;
                remote
                    .client()?
                    .get(&format!("{}/{media_id}", base(&account)))
            }
            MediaCmd::Delete {
                account,
                media_id,
                remote,
            } => {
                check_media_id(&media_id)?;
                remote
                    .client()?
                    .delete(&format!("{}/{media_id}", base(&account)))?;
                Ok(json!({ "deleted": media_id }))
            }
            MediaCmd::Quota {
                account,
                bytes,
                default,
                remote,
            } => {
                let path = format!("{}/quota", base(&account));
                match (bytes, default) {
                    (None, false) => remote.client()?.get(&path),
                    (bytes, _) => remote
                        .client()?
                        .put(&path, &json!({ "quota_bytes": bytes })),
                }
            }
        }
    }
}
