//! The WeChat-compatible server API (`/cgi-bin/…`, `/datacube/…`): bot code written for WeChat
//! (wechatpy, node `wechat-api`, WxJava, EasyWeChat) drives a Plaza account unchanged.
//!
//! This module owns the WeChat side of it: credentials and access tokens ([`tokens`]), errcodes in
//! both directions ([`errcode`]), WeChat message JSON ([`content`]) and the few records the WeChat
//! API has and Plaza does not (template industries, template `client_msg_id`s). Everything a
//! request *does* goes through the same platform functions as the admin API and plugins
//! (`Platform::send_customer_service`, `send_template_message`, `create_broadcast`, the follower
//! and tag stores), so rules and quotas are the platform's own and only their errcodes are
//! WeChat's. The HTTP handlers are `api::cgi_bin`.
//!
//! Identifier mapping:
//! - AppID = `wechat::identity::appid_for(account)`; openid = the Plaza follower's openid.
//! - `template_id` = the Plaza template id (same alphabet). WeChat's template *library* is the
//!   account's Plaza template registry: `api_add_template {"template_id_short": ID}` activates
//!   Plaza template `ID` and returns it as `template_id`; `del_private_template` deactivates it;
//!   `get_all_private_template` lists the active ones. Operators write templates with
//!   `plaza template add`.
//! - `msgid` of a template message = the digits of its outbox entry id; `msg_id` of a mass send =
//!   the digits of the broadcast id (`b` + 20 digits), so `mass/get` finds the broadcast again.
//! - Numeric tag ids are the follower store's (`FollowerStore::tag_id_map`).

pub mod content;
pub mod errcode;
pub mod tokens;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::storage::backend::key;
use crate::storage::{Json, Pending, Store, Table};

/// How long a template `client_msg_id` is remembered (WeChat: a retry with the same id within
/// this time is not sent again).
pub const CLIENT_MSG_ID_MS: u64 = 24 * 3600 * 1000;

/// The numeric id WeChat callers see for a Plaza id made of a letter prefix and digits
/// (`m000…123` → 123), or `None` if it has no such shape.
pub fn numeric_id(id: &str) -> Option<u64> {
    let digits = id.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The broadcast id whose [`numeric_id`] is `msg_id`.
pub fn broadcast_id(msg_id: u64) -> String {
    format!("b{msg_id:020}")
}

/// The industries an account declared with `api_set_industry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Industries {
    pub primary: String,
    pub secondary: String,
}

/// A template message sent with a `client_msg_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentTemplate {
    pub msgid: u64,
    pub at: u64,
}

/// WeChat industry codes (`api_set_industry`) and their names, as `get_industry` shows them.
const INDUSTRIES: &[(&str, &str, &str)] = &[
    ("1", "IT科技", "互联网|电子商务"),
    ("2", "IT科技", "IT软件与服务"),
    ("3", "IT科技", "IT硬件与设备"),
    ("4", "IT科技", "电子技术"),
    ("5", "IT科技", "通信与运营商"),
    ("6", "IT科技", "网络游戏"),
    ("7", "金融业", "银行"),
    ("8", "金融业", "基金|理财|信托"),
    ("9", "金融业", "保险"),
    ("10", "餐饮", "餐饮"),
    ("11", "酒店旅游", "酒店"),
    ("12", "酒店旅游", "旅游"),
    ("13", "运输与仓储", "快递"),
    ("14", "运输与仓储", "物流"),
    ("15", "运输与仓储", "仓储"),
    ("16", "教育", "培训"),
    ("17", "教育", "院校"),
    ("18", "政府与公共事业", "学术科研"),
    ("19", "政府与公共事业", "交警"),
    ("20", "政府与公共事业", "博物馆"),
    ("21", "政府与公共事业", "公共事业|非盈利机构"),
    ("22", "医药护理", "医药医疗"),
    ("23", "医药护理", "护理美容"),
    ("24", "医药护理", "保健与卫生"),
    ("25", "交通工具", "汽车相关"),
    ("26", "交通工具", "摩托车相关"),
    ("27", "交通工具", "火车相关"),
    ("28", "交通工具", "飞机相关"),
    ("29", "房地产", "建筑"),
    ("30", "房地产", "物业"),
    ("31", "消费品", "消费品"),
    ("32", "商业服务", "法律"),
    ("33", "商业服务", "会展"),
    ("34", "商业服务", "中介服务"),
    ("35", "商业服务", "认证"),
    ("36", "商业服务", "审计"),
    ("37", "文体娱乐", "传媒"),
    ("38", "文体娱乐", "体育"),
    ("39", "文体娱乐", "娱乐休闲"),
    ("40", "印刷", "印刷"),
    ("41", "其它", "其它"),
];

/// `{"first_class","second_class"}` of an industry code, or `None` for an unknown code.
pub fn industry_names(code: &str) -> Option<(&'static str, &'static str)> {
    INDUSTRIES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, a, b)| (*a, *b))
}

/// The WeChat API's own state.
pub struct WechatApi {
    store: Arc<Store>,
    pub tokens: tokens::Tokens,
    /// Account → industries.
    industries: Table<Json<Industries>>,
    /// `(account, client_msg_id)` → the template message sent with it.
    template_sends: Table<Json<SentTemplate>>,
    /// Serialises template sends that carry a `client_msg_id`, so two concurrent retries send once.
    pub template_send_lock: tokio::sync::Mutex<()>,
}

impl WechatApi {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(WechatApi {
            tokens: tokens::Tokens::new(store.clone())?,
            industries: store.table("wechat_api_industries")?,
            template_sends: store.table("wechat_api_template_sends")?,
            template_send_lock: tokio::sync::Mutex::new(()),
            store,
        })
    }

    pub fn industries(&self, account: &str) -> Result<Option<Industries>> {
        self.industries.get(&key(&[account]))
    }

    pub fn set_industries(&self, account: &str, i: &Industries) -> Result<Pending<()>> {
        self.store
            .write(|tx| tx.put(&self.industries, &key(&[account]), i))
    }

    /// The template message sent earlier with `client_msg_id`, if within [`CLIENT_MSG_ID_MS`].
    pub fn template_sent(
        &self,
        account: &str,
        client_msg_id: &str,
        now: u64,
    ) -> Result<Option<SentTemplate>> {
        Ok(self
            .template_sends
            .get(&key(&[account, client_msg_id]))?
            .filter(|s| now.saturating_sub(s.at) < CLIENT_MSG_ID_MS))
    }

    pub fn remember_template(
        &self,
        account: &str,
        client_msg_id: &str,
        sent: &SentTemplate,
    ) -> Result<Pending<()>> {
        self.store
            .write(|tx| tx.put(&self.template_sends, &key(&[account, client_msg_id]), sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaza_ids_read_as_wechat_numbers_and_back() {
        assert_eq!(
            numeric_id("b00001800000000000123"),
            Some(1_800_000_000_000_123)
        );
        assert_eq!(broadcast_id(1_800_000_000_000_123), "b00001800000000000123");
        assert_eq!(numeric_id("m42"), Some(42));
        assert_eq!(numeric_id("tpl_x"), None);
        assert_eq!(industry_names("1"), Some(("IT科技", "互联网|电子商务")));
        assert_eq!(industry_names("99"), None);
    }
}
