//! `plaza tokens …`: scoped API tokens (admin, operator, analyst): create, list, revoke; and the
//! security events of sign-ins.

use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::{Remote, seg};
use crate::error::Result;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Operator,
    Analyst,
}

impl RoleArg {
    fn as_str(self) -> &'static str {
        match self {
            RoleArg::Admin => "admin",
            RoleArg::Operator => "operator",
            RoleArg::Analyst => "analyst",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TokensCmd {
    /// Create a token; prints it once (it is stored only as a digest).
    Create {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// An account the token may act on (repeat for more; required for operators; analysts
        /// without any read every account).
        #[arg(long = "account", value_name = "ACCOUNT")]
        accounts: Vec<String>,
        /// An IP or CIDR range the token may be used from (repeat for more; default: anywhere).
        #[arg(long = "ip-allow", value_name = "IP_OR_CIDR")]
        ip_allow: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Revoke a token by id: refused from the next request on.
    Revoke {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Security events: new sign-in addresses, lock-outs, refused addresses (newest first).
    Events {
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
}

impl TokensCmd {
    pub fn run(self) -> Result<Value> {
        match self {
            TokensCmd::Create {
                name,
                role,
                accounts,
                ip_allow,
                remote,
            } => remote.client()?.post(
                "/tokens",
                &json!({
                    "name": name,
                    "role": role.as_str(),
                    "accounts": accounts,
                    "ip_allow": ip_allow,
                }),
            ),
            TokensCmd::List { remote } => remote.client()?.get("/tokens"),
            TokensCmd::Revoke { id, remote } => {
                remote.client()?.delete(&format!("/tokens/{}", seg(&id)))?;
                Ok(json!({ "revoked": id }))
            }
            TokensCmd::Events { limit, remote } => remote.client()?.get(&format!(
                "/security/events{}",
                limit.map_or(String::new(), |l| format!("?limit={l}"))
            )),
        }
    }
}
