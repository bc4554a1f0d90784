//! `plaza developer-server …`: attach an existing WeChat bot (a developer server) to an account.

use clap::{Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use super::{Remote, seg};
use crate::error::Result;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    /// 明文模式: signed URL, clear XML.
    Plain,
    /// 兼容模式: clear fields and <Encrypt> in one body.
    Compatible,
    /// 安全模式: only <Encrypt>.
    Secure,
}

impl ModeArg {
    fn name(self) -> &'static str {
        match self {
            ModeArg::Plain => "plain",
            ModeArg::Compatible => "compatible",
            ModeArg::Secure => "secure",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum DeveloperServerCmd {
    /// Show the account's developer server (without its token and key) and the AppID and
    /// original id the bot must be configured with.
    Show {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Set (replace) the account's developer server. A token or key left out keeps the stored one.
    Set {
        account: String,
        /// Where pushes are POSTed, e.g. http://127.0.0.1:8765/wechat.
        #[arg(long)]
        url: String,
        /// The token the bot checks signatures with (3-32 letters and digits). `--token` is the
        /// admin token, hence the name.
        #[arg(long, env = "PLAZA_BOT_TOKEN", hide_env_values = true)]
        bot_token: Option<String>,
        /// The bot's EncodingAESKey (43 letters and digits); needed for compatible and secure.
        #[arg(long, env = "PLAZA_BOT_ENCODING_AES_KEY", hide_env_values = true)]
        encoding_aes_key: Option<String>,
        #[arg(long, value_enum, default_value = "plain")]
        mode: ModeArg,
        /// Its place among the account's plugins: higher answers first (default 0).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Detach the account's developer server.
    Delete {
        account: String,
        #[command(flatten)]
        remote: Remote,
    },
}

impl DeveloperServerCmd {
    pub fn run(self) -> Result<Value> {
        let path = |account: &str| format!("/accounts/{}/developer-server", seg(account));
        match self {
            DeveloperServerCmd::Show { account, remote } => remote.client()?.get(&path(&account)),
            DeveloperServerCmd::Set {
                account,
                url,
                bot_token,
                encoding_aes_key,
                mode,
                priority,
                remote,
            } => {
                let mut body = Map::new();
                body.insert("url".into(), json!(url));
                body.insert("mode".into(), json!(mode.name()));
                body.insert("priority".into(), json!(priority));
                if let Some(t) = bot_token {
                    body.insert("token".into(), json!(t));
                }
                if let Some(k) = encoding_aes_key {
                    body.insert("encoding_aes_key".into(), json!(k));
                }
                remote.client()?.put(&path(&account), &Value::Object(body))
            }
            DeveloperServerCmd::Delete { account, remote } => {
                remote.client()?.delete(&path(&account))
            }
        }
    }
}
