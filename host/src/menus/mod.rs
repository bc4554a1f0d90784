//! Custom menus (自定义菜单): each account's default menu and its conditional menus (个性化菜单),
//! in WeChat's menu JSON, validated by WeChat's rules (`validation`), and which one a follower
//! sees.
//!
//! A menu is `{"button":[…]}`: 1-3 top-level buttons, each a leaf (`click`, `view`, …) or a
//! parent `{"name","sub_button":[…]}` of 1-5 leaves. A conditional menu adds a `matchrule`
//! (`tag_id`, `sex`, `client_platform_type`, `country`, `province`, `city`, `language`); a
//! follower sees the newest conditional menu whose rule matches them, else the default menu.
//! Every menu gets a `menuid` (a numeric string, never reused within an account).
//!
//! Rules are matched on what the host knows about a follower: `tag_id` (the follower's tags by
//! their numeric ids), `sex` (the profile's gender) and `language`. `client_platform_type`,
//! `country`, `province` and `city` are stored as given, but the local channel knows neither the
//! follower's phone nor their location, so a rule naming any of them matches no one here rather
//! than everyone.
//!
//! Storage: table `menus`, one record per account (its default menu, its conditional menus and
//! the next menuid), so that replacing, adding and deleting are each one read-modify-write in a
//! unit of work. The record is bounded: at most [`MAX_CONDITIONAL_MENUS`] menus of at most 18
//! buttons each.
//!
//! Clicks are not stored here: they are follower events in the event log (`click` / `view`
//! with the button's key or URL), counted per key by [`Platform::menu_stats`].

pub mod validation;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::accounts::followers::Follower;
use crate::error::{PlazaError, Result};
use crate::events::kinds::KindSelector;
use crate::events::query::{EventFilter, MAX_DAYS};
use crate::events::{DAY_MS, EventKind};
use crate::platform::Platform;
use crate::storage::{Json, Pending, Store, Table};
pub use validation::{KEYED, MenuError, validate, validate_rule, wechat_errcode};

/// Conditional menus one account may keep.
pub const MAX_CONDITIONAL_MENUS: usize = 20;

/// One button, as WeChat's menu JSON writes it. A leaf has a `type` and the fields that type
/// needs; a parent has a `name` and `sub_button`s (an empty `sub_button` list is a leaf, as
/// WeChat's `menu/get` shows leaves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Button {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_button: Vec<Button>,
}

/// Who a conditional menu is for. Values are strings as WeChat writes them (numbers are
/// accepted too); an empty string is an absent field, as SDKs send every field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub tag_id: Option<String>,
    /// `1` male, `2` female.
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub sex: Option<String>,
    /// `1` iOS, `2` Android, `3` others.
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_platform_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub country: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub province: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub city: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose",
        skip_serializing_if = "Option::is_none"
    )]
    pub language: Option<String>,
}

/// A string, a number (as its decimal text) or null; `""` is `None`.
fn loose<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Option::<Loose>::deserialize(d)? {
        Some(Loose::S(s)) if !s.is_empty() => Some(s),
        Some(Loose::N(n)) => Some(n.to_string()),
        _ => None,
    })
}

impl MatchRule {
    pub fn is_empty(&self) -> bool {
        self == &MatchRule::default()
    }

    /// Whether a follower carrying the tags with these ids matches (see the module docs for
    /// which fields the host can judge).
    pub fn matches(&self, follower: &Follower, tag_ids: &BTreeSet<u64>) -> bool {
        if self.client_platform_type.is_some()
            || self.country.is_some()
            || self.province.is_some()
            || self.city.is_some()
        {
            return false;
        }
        let tag_ok = self
            .tag_id
            .as_deref()
            .is_none_or(|t| t.parse::<u64>().is_ok_and(|id| tag_ids.contains(&id)));
        let sex_ok = self.sex.as_deref().is_none_or(|s| {
            matches!(
                (s, follower.gender.as_str()),
                ("1", "male") | ("2", "female")
            )
        });
        let language_ok = self
            .language
            .as_deref()
            .is_none_or(|l| l.eq_ignore_ascii_case(&follower.language));
        tag_ok && sex_ok && language_ok
    }
}

/// What an operator (or the WeChat-compatible API) sends: a menu, with a `matchrule` for a
/// conditional one. A `menuid` (as `GET` shows it) is accepted and ignored, so a menu read can
/// be written back as it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuInput {
    #[serde(default)]
    pub button: Vec<Button>,
    #[serde(default)]
    pub matchrule: Option<MatchRule>,
    #[serde(default)]
    #[allow(dead_code)]
    menuid: Option<serde_json::Value>,
}

impl MenuInput {
    pub fn new(button: Vec<Button>, matchrule: Option<MatchRule>) -> Self {
        MenuInput {
            button,
            matchrule,
            menuid: None,
        }
    }
}

/// The account's default menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefaultMenu {
    pub button: Vec<Button>,
    pub menuid: String,
}

/// A conditional (personalised) menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionalMenu {
    pub button: Vec<Button>,
    pub matchrule: MatchRule,
    pub menuid: String,
}

/// Everything an account has, in the shape of WeChat's `menu/get`: `{"menu":{"button","menuid"},
/// "conditionalmenu":[…]}` (oldest conditional menu first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountMenus {
    pub menu: DefaultMenu,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditionalmenu: Vec<ConditionalMenu>,
}

/// The menu one follower sees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowerMenu {
    pub menu: ButtonsOnly,
    pub menuid: String,
    /// True when a conditional menu's rule chose it.
    pub conditional: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ButtonsOnly {
    pub button: Vec<Button>,
}

/// The stored record: the menus and the menuid counter, which outlives deleted menus so that a
/// menuid is never given twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Record {
    #[serde(default)]
    default: Option<DefaultMenu>,
    #[serde(default)]
    conditional: Vec<ConditionalMenu>,
    #[serde(default)]
    last_menuid: u64,
}

impl Record {
    fn next_menuid(&mut self) -> String {
        self.last_menuid += 1;
        self.last_menuid.to_string()
    }
}

fn no_menu(account: &str) -> PlazaError {
    MenuError::new(
        wechat_errcode::MENU_NO_EXIST,
        format!("account {account:?} has no menu"),
    )
    .into()
}

/// Each account's menus: `account → Record`.
pub struct MenuStore {
    store: Arc<Store>,
    table: Table<Json<Record>>,
}

impl MenuStore {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(MenuStore {
            table: store.table("menus")?,
            store,
        })
    }

    fn record(&self, account: &str) -> Result<Record> {
        Ok(self.table.get(account.as_bytes())?.unwrap_or_default())
    }

    /// The account's menus, or `NotFound` (46003) when it has no default menu.
    pub fn get(&self, account: &str) -> Result<AccountMenus> {
        let r = self.record(account)?;
        let menu = r.default.ok_or_else(|| no_menu(account))?;
        Ok(AccountMenus {
            menu,
            conditionalmenu: r.conditional,
        })
    }

    /// Replaces the default menu (conditional menus stay); returns its new menuid. `Invalid`
    /// with WeChat's code when the menu breaks a rule, and then nothing changes.
    pub fn set_default(&self, account: &str, input: MenuInput) -> Result<Pending<String>> {
        if input.matchrule.is_some() {
            return Err(PlazaError::invalid(
                "a default menu has no matchrule; add a conditional menu instead",
            ));
        }
        validate(&input.button)?;
        self.store.write(|tx| {
            let mut r = tx.get(&self.table, account.as_bytes())?.unwrap_or_default();
            let menuid = r.next_menuid();
            r.default = Some(DefaultMenu {
                button: input.button.clone(),
                menuid: menuid.clone(),
            });
            tx.put(&self.table, account.as_bytes(), &r)?;
            Ok(menuid)
        })
    }

    /// Deletes the default menu and every conditional menu (as WeChat's `menu/delete` does).
    /// `NotFound` (46003) when there was none.
    pub fn delete_all(&self, account: &str) -> Result<Pending<()>> {
        self.store.write(|tx| {
            let mut r: Record = tx.get(&self.table, account.as_bytes())?.unwrap_or_default();
            if r.default.is_none() && r.conditional.is_empty() {
                return Err(no_menu(account));
            }
            r.default = None;
            r.conditional.clear();
            tx.put(&self.table, account.as_bytes(), &r)
        })
    }

    /// Adds a conditional menu; returns its menuid. The caller has checked that the rule's
    /// `tag_id` exists (see [`Platform::add_conditional_menu`]). Needs a default menu (65303),
    /// a rule (65304) and room (65305).
    fn add_conditional(&self, account: &str, input: MenuInput) -> Result<Pending<String>> {
        let rule = input.matchrule.unwrap_or_default();
        validate_rule(&rule)?;
        validate(&input.button)?;
        self.store.write(|tx| {
            let mut r: Record = tx.get(&self.table, account.as_bytes())?.unwrap_or_default();
            if r.default.is_none() {
                return Err(MenuError::new(
                    wechat_errcode::NO_DEFAULT_MENU,
                    format!("account {account:?} has no default menu; set one first"),
                )
                .into());
            }
            if r.conditional.len() >= MAX_CONDITIONAL_MENUS {
                return Err(MenuError::new(
                    wechat_errcode::CONDITIONAL_MENU_LIMIT,
                    format!(
                        "account {account:?} already has {MAX_CONDITIONAL_MENUS} conditional menus; delete one first"
                    ),
                )
                .into());
            }
            let menuid = r.next_menuid();
            r.conditional.push(ConditionalMenu {
                button: input.button.clone(),
                matchrule: rule.clone(),
                menuid: menuid.clone(),
            });
            tx.put(&self.table, account.as_bytes(), &r)?;
            Ok(menuid)
        })
    }

    /// Deletes one conditional menu; `NotFound` (65301) for an unknown menuid.
    pub fn delete_conditional(&self, account: &str, menuid: &str) -> Result<Pending<()>> {
        self.store.write(|tx| {
            let mut r: Record = tx.get(&self.table, account.as_bytes())?.unwrap_or_default();
            let before = r.conditional.len();
            r.conditional.retain(|m| m.menuid != menuid);
            if r.conditional.len() == before {
                return Err(MenuError::new(
                    wechat_errcode::NO_SUCH_CONDITIONAL_MENU,
                    format!("account {account:?} has no conditional menu {menuid:?}"),
                )
                .into());
            }
            tx.put(&self.table, account.as_bytes(), &r)
        })
    }

    /// The menu a follower with these tag ids sees: the newest matching conditional menu, else
    /// the default. `NotFound` (46003) when the account has no menu.
    pub fn for_follower(
        &self,
        account: &str,
        follower: &Follower,
        tag_ids: &BTreeSet<u64>,
    ) -> Result<FollowerMenu> {
        let r = self.record(account)?;
        let default = r.default.ok_or_else(|| no_menu(account))?;
        if let Some(m) = r
            .conditional
            .into_iter()
            .rev()
            .find(|m| m.matchrule.matches(follower, tag_ids))
        {
            return Ok(FollowerMenu {
                menu: ButtonsOnly { button: m.button },
                menuid: m.menuid,
                conditional: true,
            });
        }
        Ok(FollowerMenu {
            menu: ButtonsOnly {
                button: default.button,
            },
            menuid: default.menuid,
            conditional: false,
        })
    }
}

/// Clicks on one menu key (or view URL) over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuClicks {
    pub key: String,
    /// `click` (every keyed button type) or `view` (the key is the URL).
    #[serde(rename = "type")]
    pub kind: String,
    pub count: u64,
}

impl Platform {
    /// The numeric ids of the tags a follower carries.
    fn follower_tag_ids(&self, account: &str, follower: &Follower) -> Result<BTreeSet<u64>> {
        if follower.tags.is_empty() {
            return Ok(BTreeSet::new());
        }
        let ids: BTreeMap<String, u64> = self.followers.tag_id_map(account)?;
        Ok(follower
            .tags
            .iter()
            .filter_map(|t| ids.get(t).copied())
            .collect())
    }

    /// Adds a conditional menu after checking that its `tag_id` names one of the account's tags
    /// (40035 otherwise); returns its menuid.
    pub fn add_conditional_menu(&self, account: &str, input: MenuInput) -> Result<Pending<String>> {
        if let Some(rule) = &input.matchrule {
            validate_rule(rule)?;
            if let Some(id) = rule.tag_id.as_deref().and_then(|t| t.parse::<u64>().ok()) {
                match self.followers.tag_by_id(account, id) {
                    Ok(_) => {}
                    Err(PlazaError::NotFound(_)) => {
                        return Err(MenuError::new(
                            wechat_errcode::INVALID_PARAMETER,
                            format!("matchrule.tag_id {id} is not a tag of account {account:?}"),
                        )
                        .into());
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.menus.add_conditional(account, input)
    }

    /// The menu follower `openid` sees. A follower the account has not met yet sees the
    /// default menu.
    pub fn follower_menu(&self, account: &str, openid: &str) -> Result<FollowerMenu> {
        crate::accounts::followers::validate_openid(openid)?;
        let follower = match self.followers.get(account, openid) {
            Ok(f) => f,
            Err(PlazaError::NotFound(_)) => Follower {
                openid: openid.to_string(),
                ..Follower::default()
            },
            Err(e) => return Err(e),
        };
        let tag_ids = self.follower_tag_ids(account, &follower)?;
        self.menus.for_follower(account, &follower, &tag_ids)
    }

    /// Menu clicks of the last `days` days (1 to 366) from the event log, per key and type,
    /// most clicked first.
    pub fn menu_stats(&self, account: &str, days: u32) -> Result<Vec<MenuClicks>> {
        if days == 0 || i64::from(days) > MAX_DAYS {
            return Err(PlazaError::invalid(format!(
                "days must be 1-{MAX_DAYS}, not {days}"
            )));
        }
        let now = self.clock.now_ms();
        let filter = EventFilter {
            from: now.saturating_sub(u64::from(days) * DAY_MS),
            to: None,
            kinds: vec![KindSelector::Kind(EventKind::FollowerEvent)],
            openid: None,
        };
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .events
                .list(account, &filter, cursor.as_deref(), 10_000)?;
            for ev in page.events {
                let (Some(event), Some(key)) = (ev.event, ev.event_key) else {
                    continue;
                };
                if event == "click" || event == "view" {
                    *counts.entry((key, event)).or_default() += 1;
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut out: Vec<MenuClicks> = counts
            .into_iter()
            .map(|((key, kind), count)| MenuClicks { key, kind, count })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::{done, faulty_store};
    use serde_json::json;

    fn store() -> (tempfile::TempDir, MenuStore) {
        let (dir, _faulty, store) = faulty_store();
        (dir, MenuStore::new(store).unwrap())
    }

    fn input(v: serde_json::Value) -> MenuInput {
        serde_json::from_value(v).unwrap()
    }

    fn menu(key: &str) -> serde_json::Value {
        json!({"button": [{"type": "click", "name": "b", "key": key}]})
    }

    fn conditional(key: &str, rule: serde_json::Value) -> MenuInput {
        let mut m = menu(key);
        m["matchrule"] = rule;
        input(m)
    }

    fn follower(tags: &[&str], gender: &str) -> Follower {
        Follower {
            openid: "o".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            gender: gender.into(),
            ..Follower::default()
        }
    }

    fn key_of(m: &FollowerMenu) -> &str {
        m.menu.button[0].key.as_deref().unwrap()
    }

    #[test]
    fn default_menu_replace_get_delete() {
        let (_d, s) = store();
        assert_eq!(s.get("a").unwrap_err().code(), "not_found");
        let e = s.get("a").unwrap_err();
        assert_eq!(wechat_errcode::of(&e), 46003, "{e}");
        let id1 = done(s.set_default("a", input(menu("k1")))).unwrap();
        let id2 = done(s.set_default("a", input(menu("k2")))).unwrap();
        assert_ne!(id1, id2);
        assert!(id2.parse::<u64>().is_ok());
        let got = s.get("a").unwrap();
        assert_eq!(got.menu.menuid, id2);
        assert_eq!(got.menu.button[0].key.as_deref(), Some("k2"));
        // A bad menu changes nothing.
        let e = done(s.set_default("a", input(json!({"button": []})))).unwrap_err();
        assert!(e.message().starts_with("40016 "), "{e}");
        assert_eq!(s.get("a").unwrap(), got);
        // Written back as read (with its menuid) it is accepted.
        let back = serde_json::to_value(&got.menu).unwrap();
        done(s.set_default("a", input(back))).unwrap();
        done(s.delete_all("a")).unwrap();
        assert_eq!(s.get("a").unwrap_err().code(), "not_found");
        assert_eq!(done(s.delete_all("a")).unwrap_err().code(), "not_found");
        // menuids are never given twice.
        let id3 = done(s.set_default("a", input(menu("k3")))).unwrap();
        assert!(id3.parse::<u64>().unwrap() > id2.parse::<u64>().unwrap());
        assert_eq!(s.get("b").unwrap_err().code(), "not_found", "per account");
    }

    #[test]
    fn conditional_menus_need_a_default_a_rule_and_room() {
        let (_d, s) = store();
        let e = done(s.add_conditional("a", conditional("c", json!({"tag_id": "1"})))).unwrap_err();
        assert_eq!(
            (e.code(), wechat_errcode::of(&e)),
            ("conflict", 65303),
            "{e}"
        );
        done(s.set_default("a", input(menu("d")))).unwrap();
        let e = done(s.add_conditional("a", input(menu("c")))).unwrap_err();
        assert_eq!(wechat_errcode::of(&e), 65304, "{e}");
        let e = done(s.add_conditional("a", conditional("c", json!({"sex": ""})))).unwrap_err();
        assert_eq!(wechat_errcode::of(&e), 65304, "{e}");
        let mut ids = Vec::new();
        for i in 0..MAX_CONDITIONAL_MENUS {
            ids.push(
                done(s.add_conditional("a", conditional(&format!("c{i}"), json!({"tag_id": i}))))
                    .unwrap(),
            );
        }
        let e = done(s.add_conditional("a", conditional("x", json!({"tag_id": "1"})))).unwrap_err();
        assert_eq!(
            (e.code(), wechat_errcode::of(&e)),
            ("quota_exceeded", 65305)
        );
        done(s.delete_conditional("a", &ids[0])).unwrap();
        let e = done(s.delete_conditional("a", &ids[0])).unwrap_err();
        assert_eq!((e.code(), wechat_errcode::of(&e)), ("not_found", 65301));
        done(s.add_conditional("a", conditional("x", json!({"tag_id": "1"})))).unwrap();
        let got = s.get("a").unwrap();
        assert_eq!(got.conditionalmenu.len(), MAX_CONDITIONAL_MENUS);
        assert_eq!(
            got.conditionalmenu[0].matchrule.tag_id.as_deref(),
            Some("1")
        );
        // Deleting the menu deletes the conditional ones too.
        done(s.delete_all("a")).unwrap();
        done(s.set_default("a", input(menu("d")))).unwrap();
        assert!(s.get("a").unwrap().conditionalmenu.is_empty());
    }

    #[test]
    fn followers_see_the_newest_matching_menu_else_the_default() {
        let (_d, s) = store();
        let anyone = follower(&[], "");
        let none = BTreeSet::new();
        assert_eq!(
            s.for_follower("a", &anyone, &none).unwrap_err().code(),
            "not_found"
        );
        let d = done(s.set_default("a", input(menu("default")))).unwrap();
        let vip = done(s.add_conditional("a", conditional("vip", json!({"tag_id": "7"})))).unwrap();
        done(s.add_conditional("a", conditional("women", json!({"sex": "2"})))).unwrap();
        done(s.add_conditional(
            "a",
            conditional("ios", json!({"tag_id": "7", "client_platform_type": "1"})),
        ))
        .unwrap();
        done(s.add_conditional("a", conditional("en", json!({"language": "en"})))).unwrap();

        let m = s.for_follower("a", &anyone, &none).unwrap();
        assert_eq!(
            (key_of(&m), m.menuid.as_str(), m.conditional),
            ("default", d.as_str(), false)
        );
        let tagged = BTreeSet::from([3, 7]);
        let m = s
            .for_follower("a", &follower(&["vip"], "male"), &tagged)
            .unwrap();
        assert_eq!(
            (key_of(&m), m.menuid.as_str(), m.conditional),
            ("vip", vip.as_str(), true)
        );
        // The newest match wins.
        let m = s
            .for_follower("a", &follower(&["vip"], "female"), &tagged)
            .unwrap();
        assert_eq!(key_of(&m), "women");
        let mut en = follower(&[], "");
        en.language = "EN".into();
        assert_eq!(key_of(&s.for_follower("a", &en, &none).unwrap()), "en");
    }
}
