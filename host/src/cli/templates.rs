//! `plaza templates …`: the account's template-message registry.

use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::followers::{encode, pair};
use super::{Remote, seg};
use crate::error::{PlazaError, Result};

#[derive(Subcommand, Debug)]
pub enum TemplatesCmd {
    /// Add a template; placeholders are written {{name.DATA}}.
    Add {
        account: String,
        #[arg(long)]
        title: String,
        /// The content, or @file to read it from a file.
        #[arg(long)]
        content: String,
        /// The template's id (generated when absent).
        #[arg(long)]
        id: Option<String>,
        /// Keep it inactive (not counted against the 25 active, cannot be sent).
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the account's templates.
    List {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one template.
    Show {
        account: String,
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Activate a template (at most 25 active per account).
    Activate {
        account: String,
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Deactivate a template (kept, but cannot be sent).
    Deactivate {
        account: String,
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Render a template with fields, validated as a send would be.
    Preview {
        account: String,
        id: String,
        /// A field: NAME=VALUE (repeatable).
        #[arg(long = "field", value_name = "NAME=VALUE")]
        fields: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a template.
    Delete {
        account: String,
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

impl TemplatesCmd {
    pub fn run(self) -> Result<Value> {
        let path = |account: &str, id: Option<&str>| match id {
            Some(id) => format!("/accounts/{}/templates/{}", seg(account), encode(id)),
            None => format!("/accounts/{}/templates", seg(account)),
        };
        match self {
            TemplatesCmd::Add {
                account,
                title,
                content,
                id,
                inactive,
                remote,
            } => {
                let content = match content.strip_prefix('@') {
                    Some(file) => std::fs::read_to_string(file)
                        .map_err(|e| PlazaError::invalid(format!("cannot read {file}: {e}")))?,
                    None => content,
                };
                remote.client()?.post(
                    &path(&account, None),
                    &json!({ "id": id, "title": title, "content": content, "active": !inactive }),
                )
            }
            TemplatesCmd::List { account, remote } => remote.client()?.get(&path(&account, None)),
            TemplatesCmd::Show {
                account,
                id,
                remote,
            } => remote.client()?.get(&path(&account, Some(&id))),
            TemplatesCmd::Activate {
                account,
                id,
                remote,
            } => remote
                .client()?
                .patch(&path(&account, Some(&id)), &json!({ "active": true })),
            TemplatesCmd::Deactivate {
                account,
                id,
                remote,
            } => remote
                .client()?
                .patch(&path(&account, Some(&id)), &json!({ "active": false })),
            TemplatesCmd::Preview {
                account,
                id,
                fields,
                remote,
            } => {
                let mut map = Map::new();
                for f in &fields {
                    let (k, v) = pair(f, "--field")?;
                    map.insert(k, Value::String(v));
                }
                remote.client()?.post(
                    &format!("{}/preview", path(&account, Some(&id))),
                    &json!({ "fields": map }),
                )
            }
            TemplatesCmd::Delete {
                account,
                id,
                remote,
            } => remote.client()?.delete(&path(&account, Some(&id))),
        }
    }
}
