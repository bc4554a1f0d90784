//! `plaza wechat …`: bridge an account to a real WeChat official account (show, set, delete the
//! channel settings, sync tags and followers). Secrets given here are sent once and never shown again.

use clap::{Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use super::{Remote, seg};
use crate::error::Result;

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ModeArg {
    Plain,
    Compatible,
    Secure,
}

#[derive(Subcommand, Debug)]
pub enum WechatCmd {
    /// Show the bridge settings (secrets only as set / not set) and the callback URL to enter in
    /// the WeChat console.
    Show {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Create or change the bridge; omitted secrets keep their stored values.
    Set {
        account: String,
        /// The official account's AppID (wx…).
        #[arg(long)]
        appid: Option<String>,
        /// The AppSecret (for the server API).
        #[arg(long, env = "PLAZA_WECHAT_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// The Token of the account's 服务器配置 (`--token` is the admin token).
        #[arg(long = "callback-token", value_name = "TOKEN")]
        callback_token: Option<String>,
        /// The EncodingAESKey (43 characters); needed in compatible and secure mode.
        #[arg(long)]
        encoding_aes_key: Option<String>,
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        /// The server API's base URL (default https://api.weixin.qq.com).
        #[arg(long)]
        api_base: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Messages on their way to WeChat's server API: pending (with attempts and the last error)
    /// and those WeChat refused for good.
    Outbound {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Sync with the WeChat account: tags both ways, followers (and their tags) from WeChat.
    Sync {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop bridging the account (its followers and data stay).
    Delete {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
}

impl WechatCmd {
    pub fn run(self) -> Result<Value> {
        let path = |account: &str| format!("/accounts/{}/wechat", seg(account));
        match self {
            WechatCmd::Show { account, remote } => remote.client()?.get(&path(&account)),
            WechatCmd::Set {
                account,
                appid,
                secret,
                callback_token,
                encoding_aes_key,
                mode,
                api_base,
                remote,
            } => {
                let mut body = Map::new();
                let mut put = |k: &str, v: Option<String>| {
                    if let Some(v) = v {
                        body.insert(k.to_string(), Value::String(v));
                    }
                };
                put("appid", appid);
                put("secret", secret);
                put("token", callback_token);
                put("encoding_aes_key", encoding_aes_key);
                put("api_base", api_base);
                put(
                    "mode",
                    mode.map(|m| {
                        match m {
                            ModeArg::Plain => "plain",
                            ModeArg::Compatible => "compatible",
                            ModeArg::Secure => "secure",
                        }
                        .to_string()
                    }),
                );
                remote.client()?.put(&path(&account), &Value::Object(body))
            }
            WechatCmd::Outbound { account, remote } => remote
                .client()?
                .get(&format!("{}/outbound", path(&account))),
            WechatCmd::Sync { account, remote } => remote
                .client()?
                .post(&format!("{}/sync", path(&account)), &json!({})),
            WechatCmd::Delete { account, remote } => {
                remote.client()?.delete(&path(&account))?;
                Ok(json!({ "deleted": account }))
            }
        }
    }
}
