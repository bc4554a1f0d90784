//! `plaza menu …`: the account's custom menu (自定义菜单) and its conditional menus.

use clap::Subcommand;
use serde_json::{Value, json};

use super::followers::encode;
use super::{Remote, read_json_input, seg};
use crate::error::Result;

#[derive(Subcommand, Debug)]
pub enum MenuCmd {
    /// Show the account's menu and conditional menus (or, with --follower, the menu one
    /// follower sees).
    Show {
        account: String,
        #[arg(long)]
        follower: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Replace the default menu: WeChat menu JSON {"button":[…]}, inline, a file path, @file,
    /// or - for stdin.
    Set {
        account: String,
        menu: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete the default menu and every conditional menu.
    Delete {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Menu clicks per key over the last days, from the event log.
    Stats {
        account: String,
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Publish the stored menus to the bridged WeChat account again (after WeChat refused a
    /// change).
    Publish {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Conditional menus (个性化菜单): add, delete.
    #[command(subcommand)]
    Conditional(ConditionalCmd),
}

#[derive(Subcommand, Debug)]
pub enum ConditionalCmd {
    /// Add a conditional menu {"button":[…],"matchrule":{"tag_id":"…"}} (inline, a file path,
    /// @file, or -); prints its menuid.
    Add {
        account: String,
        menu: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a conditional menu by its menuid.
    Delete {
        account: String,
        menuid: String,
        #[command(flatten)]
        remote: Remote,
    },
}

impl MenuCmd {
    pub fn run(self) -> Result<Value> {
        let path = |account: &str| format!("/accounts/{}/menu", seg(account));
        match self {
            MenuCmd::Show {
                account,
                follower: Some(openid),
                remote,
            } => remote.client()?.get(&format!(
                "/accounts/{}/followers/{}/menu",
                seg(&account),
                encode(&openid)
            )),
            MenuCmd::Show {
                account,
                follower: None,
                remote,
            } => remote.client()?.get(&path(&account)),
            MenuCmd::Set {
                account,
                menu,
                remote,
            } => {
                let menu = read_json_input(&menu, "menu")?;
                remote.client()?.put(&path(&account), &menu)
            }
            MenuCmd::Delete { account, remote } => {
                remote.client()?.delete(&path(&account))?;
                Ok(json!({ "deleted": true }))
            }
            MenuCmd::Publish { account, remote } => remote
                .client()?
                .post(&format!("{}/publish", path(&account)), &json!({})),
            MenuCmd::Stats {
                account,
                days,
                remote,
            } => remote
                .client()?
                .get(&format!("{}/stats?days={days}", path(&account))),
            MenuCmd::Conditional(ConditionalCmd::Add {
                account,
                menu,
                remote,
            }) => {
                let menu = read_json_input(&menu, "menu")?;
                remote
                    .client()?
                    .post(&format!("{}/conditional", path(&account)), &menu)
            }
            MenuCmd::Conditional(ConditionalCmd::Delete {
                account,
                menuid,
                remote,
            }) => {
                remote.client()?.delete(&format!(
                    "{}/conditional/{}",
                    path(&account),
                    encode(&menuid)
                ))?;
                Ok(json!({ "deleted": menuid }))
            }
        }
    }
}
