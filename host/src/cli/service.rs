//! `plaza service …`: the customer-service seat (人工客服) — the queue of conversations plugins
//! handed to a person, answering a follower, closing a conversation.

use clap::Subcommand;
use serde_json::{Value, json};

use super::followers::encode;
use super::{Remote, seg};
use crate::error::Result;

#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// The account's conversations: waiting ones first (longest waiting first).
    Queue {
        account: String,
        /// open (waiting and answered), waiting, answered, closed or all.
        #[arg(long, default_value = "open")]
        status: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Answer a follower with a text customer-service message (only within 48 h of their last
    /// interaction); marks their conversation answered.
    Reply {
        account: String,
        openid: String,
        text: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Close a follower's conversation.
    Close {
        account: String,
        openid: String,
        #[command(flatten)]
        remote: Remote,
    },
}

impl ServiceCmd {
    pub fn run(self) -> Result<Value> {
        let base = |account: &str| format!("/accounts/{}/service/conversations", seg(account));
        match self {
            ServiceCmd::Queue {
                account,
                status,
                remote,
            } => remote
                .client()?
                .get(&format!("{}?status={}", base(&account), encode(&status))),
            ServiceCmd::Reply {
                account,
                openid,
                text,
                remote,
            } => remote.client()?.post(
                &format!("{}/{}/messages", base(&account), encode(&openid)),
                &json!({ "content": { "msg_type": "text", "content": text } }),
            ),
            ServiceCmd::Close {
                account,
                openid,
                remote,
            } => remote.client()?.post(
                &format!("{}/{}/close", base(&account), encode(&openid)),
                &json!({}),
            ),
        }
    }
}
