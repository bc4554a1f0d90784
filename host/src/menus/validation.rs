//! WeChat's rules for a custom menu, and the error code WeChat answers for each broken rule.
//!
//! One validation serves the admin API (`PUT /api/v1/accounts/{a}/menu`, which answers a typed
//! `invalid` error whose message starts with the code) and the WeChat-compatible API
//! (`/cgi-bin/menu/create`, which answers `{"errcode":N,"errmsg":…}` from [`MenuError`]), so a
//! menu refused by one is refused by the other for the same reason.

use std::fmt;

use super::{Button, MatchRule};
use crate::accounts::is_forbidden_char;
use crate::error::PlazaError;

/// Top-level buttons a menu holds at most (and at least 1).
pub const MAX_TOP_BUTTONS: usize = 3;
/// Sub-buttons one top-level button holds at most (and at least 1, if it has any).
pub const MAX_SUB_BUTTONS: usize = 5;
/// Longest top-level button name, in bytes (UTF-8: 5 Chinese characters).
pub const MAX_TOP_NAME: usize = 16;
/// Longest sub-button name, in bytes.
pub const MAX_SUB_NAME: usize = 60;
/// Longest `key`, in bytes.
pub const MAX_KEY: usize = 128;
/// Longest `url`, in bytes.
pub const MAX_URL: usize = 1024;
/// Longest `media_id`, `article_id`, `appid` or `pagepath`, in bytes. WeChat publishes no bound
/// for these; ours keeps a stored menu small (a media id of the local channel is at most 256).
pub const MAX_REF: usize = 256;
/// Longest value of a match rule field, in characters.
pub const MAX_RULE_VALUE: usize = 64;

/// The WeChat error codes menu operations answer, and their canonical meaning (`errmsg`).
pub mod wechat_errcode {
    pub const INVALID_BUTTON_TYPE: i64 = 40015;
    pub const INVALID_BUTTON_SIZE: i64 = 40016;
    pub const INVALID_SUB_BUTTON_TYPE_OR_SIZE: i64 = 40017;
    pub const INVALID_BUTTON_NAME_SIZE: i64 = 40018;
    pub const INVALID_BUTTON_KEY_SIZE: i64 = 40019;
    pub const INVALID_BUTTON_URL_SIZE: i64 = 40020;
    pub const INVALID_SUB_BUTTON_SIZE: i64 = 40023;
    pub const INVALID_SUB_BUTTON_TYPE: i64 = 40024;
    pub const INVALID_SUB_BUTTON_NAME_SIZE: i64 = 40025;
    pub const INVALID_SUB_BUTTON_KEY_SIZE: i64 = 40026;
    pub const INVALID_SUB_BUTTON_URL_SIZE: i64 = 40027;
    pub const INVALID_PARAMETER: i64 = 40035;
    pub const INVALID_URL_DOMAIN: i64 = 40055;
    pub const MENU_NO_EXIST: i64 = 46003;
    pub const NO_SUCH_CONDITIONAL_MENU: i64 = 65301;
    pub const NO_DEFAULT_MENU: i64 = 65303;
    pub const MATCH_RULE_EMPTY: i64 = 65304;
    pub const CONDITIONAL_MENU_LIMIT: i64 = 65305;
    pub const COUNTRY_REQUIRED: i64 = 65310;
    pub const PROVINCE_REQUIRED: i64 = 65311;

    /// `(code, errmsg)` for every code above.
    pub const TABLE: &[(i64, &str)] = &[
        (INVALID_BUTTON_TYPE, "invalid button type"),
        (INVALID_BUTTON_SIZE, "invalid button size"),
        (INVALID_SUB_BUTTON_TYPE_OR_SIZE, "invalid sub button type"),
        (INVALID_BUTTON_NAME_SIZE, "invalid button name size"),
        (INVALID_BUTTON_KEY_SIZE, "invalid button key size"),
        (INVALID_BUTTON_URL_SIZE, "invalid button url size"),
        (INVALID_SUB_BUTTON_SIZE, "invalid sub button size"),
        (INVALID_SUB_BUTTON_TYPE, "invalid sub button type"),
        (INVALID_SUB_BUTTON_NAME_SIZE, "invalid sub button name size"),
        (INVALID_SUB_BUTTON_KEY_SIZE, "invalid sub button key size"),
        (INVALID_SUB_BUTTON_URL_SIZE, "invalid sub button url size"),
        (INVALID_PARAMETER, "invalid parameter"),
        (INVALID_URL_DOMAIN, "invalid url domain"),
        (MENU_NO_EXIST, "menu no exist"),
        (NO_SUCH_CONDITIONAL_MENU, "conditional menu not exist"),
        (
            NO_DEFAULT_MENU,
            "there is no default menu, create one first",
        ),
        (MATCH_RULE_EMPTY, "match rule empty"),
        (CONDITIONAL_MENU_LIMIT, "conditional menu count limit"),
        (
            COUNTRY_REQUIRED,
            "country is required with province or city",
        ),
        (PROVINCE_REQUIRED, "province is required with city"),
    ];

    /// The canonical meaning of `code`, if it is a menu code.
    pub fn meaning(code: i64) -> Option<&'static str> {
        TABLE.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
    }

    /// The WeChat code of a menu failure that reached the caller as a `PlazaError`: every menu
    /// error message starts with its code (`"40016 invalid button size: …"`). Other failures
    /// (storage, …) are WeChat's `-1` (system busy).
    pub fn of(e: &crate::error::PlazaError) -> i64 {
        let m = e.message();
        m.split_once(' ')
            .and_then(|(n, _)| n.parse::<i64>().ok())
            .filter(|n| meaning(*n).is_some())
            .unwrap_or(-1)
    }
}

use wechat_errcode as code;

/// A menu (or match rule) refused, with WeChat's code. `message` begins with the code's meaning
/// and then says which button and why: `invalid button size: the menu has 4 top-level buttons;
/// 1-3 are allowed`. Shown as `"{errcode} {message}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuError {
    pub errcode: i64,
    pub message: String,
}

impl MenuError {
    pub fn new(errcode: i64, detail: impl fmt::Display) -> Self {
        let meaning = code::meaning(errcode).unwrap_or("invalid menu");
        MenuError {
            errcode,
            message: format!("{meaning}: {detail}"),
        }
    }

    /// The PlazaError variant the code stands for, with the code leading the message.
    pub fn into_plaza(self) -> PlazaError {
        let text = self.to_string();
        match self.errcode {
            code::MENU_NO_EXIST | code::NO_SUCH_CONDITIONAL_MENU => PlazaError::NotFound(text),
            code::NO_DEFAULT_MENU => PlazaError::Conflict(text),
            code::CONDITIONAL_MENU_LIMIT => PlazaError::QuotaExceeded {
                message: text,
                resets_at: None,
            },
            _ => PlazaError::Invalid(text),
        }
    }
}

impl fmt::Display for MenuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.errcode, self.message)
    }
}

impl std::error::Error for MenuError {}

impl From<MenuError> for PlazaError {
    fn from(e: MenuError) -> Self {
        e.into_plaza()
    }
}

/// Every button type WeChat knows.
pub const BUTTON_TYPES: &[&str] = &[
    "click",
    "view",
    "miniprogram",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "media_id",
    "view_limited",
    "article_id",
    "article_view_limited",
];

/// Types whose click sends the account an event carrying the button's `key` (and the events are
/// named like the types).
pub const KEYED: &[&str] = &[
    "click",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
];

/// The codes of one level: top-level buttons and sub-buttons have codes of their own.
struct Level {
    sub: bool,
    max_name: usize,
    type_code: i64,
    name_code: i64,
    key_code: i64,
    url_code: i64,
}

const TOP: Level = Level {
    sub: false,
    max_name: MAX_TOP_NAME,
    type_code: code::INVALID_BUTTON_TYPE,
    name_code: code::INVALID_BUTTON_NAME_SIZE,
    key_code: code::INVALID_BUTTON_KEY_SIZE,
    url_code: code::INVALID_BUTTON_URL_SIZE,
};

const SUB: Level = Level {
    sub: true,
    max_name: MAX_SUB_NAME,
    type_code: code::INVALID_SUB_BUTTON_TYPE,
    name_code: code::INVALID_SUB_BUTTON_NAME_SIZE,
    key_code: code::INVALID_SUB_BUTTON_KEY_SIZE,
    url_code: code::INVALID_SUB_BUTTON_URL_SIZE,
};

/// Checks a menu against WeChat's rules: 1-3 top-level buttons, each a leaf or a parent of 1-5
/// sub-buttons; names, keys and URLs within their byte limits; each type with the fields it
/// needs. The first problem found is returned, naming the button (`button[1].sub_button[0]
/// "搜索"`).
pub fn validate(buttons: &[Button]) -> Result<(), MenuError> {
    if buttons.is_empty() || buttons.len() > MAX_TOP_BUTTONS {
        return Err(MenuError::new(
            code::INVALID_BUTTON_SIZE,
            format!(
                "the menu has {} top-level buttons; 1-{MAX_TOP_BUTTONS} are allowed",
                buttons.len()
            ),
        ));
    }
    for (i, b) in buttons.iter().enumerate() {
        let at = format!("button[{i}]");
        if b.sub_button.is_empty() {
            validate_leaf(b, &at, &TOP)?;
            continue;
        }
        check_name(b, &at, &TOP)?;
        if let Some(t) = &b.kind {
            return Err(MenuError::new(
                TOP.type_code,
                format!(
                    "{} has sub_buttons and type {t:?}: a button with sub_buttons has no type",
                    label(b, &at)
                ),
            ));
        }
        if b.sub_button.len() > MAX_SUB_BUTTONS {
            return Err(MenuError::new(
                code::INVALID_SUB_BUTTON_SIZE,
                format!(
                    "{} has {} sub_buttons; 1-{MAX_SUB_BUTTONS} are allowed",
                    label(b, &at),
                    b.sub_button.len()
                ),
            ));
        }
        for (j, s) in b.sub_button.iter().enumerate() {
            let at = format!("{at}.sub_button[{j}]");
            if !s.sub_button.is_empty() {
                return Err(MenuError::new(
                    code::INVALID_SUB_BUTTON_TYPE_OR_SIZE,
                    format!(
                        "{} has sub_buttons of its own; menus have two levels",
                        label(s, &at)
                    ),
                ));
            }
            validate_leaf(s, &at, &SUB)?;
        }
    }
    Ok(())
}

fn label(b: &Button, at: &str) -> String {
    if b.name.is_empty() {
        at.to_string()
    } else {
        format!("{at} {:?}", b.name)
    }
}

fn check_name(b: &Button, at: &str, level: &Level) -> Result<(), MenuError> {
    let n = b.name.len();
    if n == 0 || n > level.max_name || b.name.chars().any(is_forbidden_char) {
        let which = if level.sub { "sub-button" } else { "button" };
        return Err(MenuError::new(
            level.name_code,
            format!(
                "{}: a {which} name is 1-{} bytes without control characters; this one is {n}",
                label(b, at),
                level.max_name
            ),
        ));
    }
    Ok(())
}

/// A field a type needs, within its bound (`code` when absent, empty or too long).
fn need(
    b: &Button,
    at: &str,
    field: &str,
    value: &Option<String>,
    max: usize,
    code: i64,
) -> Result<(), MenuError> {
    let t = b.kind.as_deref().unwrap_or_default();
    match value.as_deref() {
        None | Some("") => Err(MenuError::new(
            code,
            format!("{}: type {t:?} needs {field:?}", label(b, at)),
        )),
        Some(v) if v.len() > max || v.chars().any(is_forbidden_char) => Err(MenuError::new(
            code,
            format!(
                "{}: {field} is 1-{max} bytes without control characters; this one is {}",
                label(b, at),
                v.len()
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// A URL a follower is sent to: http(s), with a host, no spaces or control characters.
fn check_url(b: &Button, at: &str, url: &Option<String>, level: &Level) -> Result<(), MenuError> {
    need(b, at, "url", url, MAX_URL, level.url_code)?;
    let url = url.as_deref().unwrap_or_default();
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    if host.is_none_or(str::is_empty) || url.contains(char::is_whitespace) {
        return Err(MenuError::new(
            code::INVALID_URL_DOMAIN,
            format!(
                "{}: url {url:?} must be an http:// or https:// address with a host",
                label(b, at)
            ),
        ));
    }
    Ok(())
}

fn validate_leaf(b: &Button, at: &str, level: &Level) -> Result<(), MenuError> {
    check_name(b, at, level)?;
    let Some(t) = b.kind.as_deref() else {
        return Err(MenuError::new(
            level.type_code,
            format!(
                "{} has neither a type nor sub_buttons; types: {}",
                label(b, at),
                BUTTON_TYPES.join(", ")
            ),
        ));
    };
    match t {
        _ if KEYED.contains(&t) => need(b, at, "key", &b.key, MAX_KEY, level.key_code),
        "view" => check_url(b, at, &b.url, level),
        "miniprogram" => {
            need(b, at, "appid", &b.appid, MAX_REF, level.type_code)?;
            need(b, at, "pagepath", &b.pagepath, MAX_REF, level.type_code)?;
            // The page old clients open instead of the mini-program.
            check_url(b, at, &b.url, level)
        }
        "media_id" | "view_limited" => {
            need(b, at, "media_id", &b.media_id, MAX_REF, level.type_code)
        }
        "article_id" | "article_view_limited" => {
            need(b, at, "article_id", &b.article_id, MAX_REF, level.type_code)
        }
        other => Err(MenuError::new(
            level.type_code,
            format!(
                "{}: unknown type {other:?}; types: {}",
                label(b, at),
                BUTTON_TYPES.join(", ")
            ),
        )),
    }
}

/// Checks a conditional menu's match rule: at least one field (65304), each a value WeChat
/// accepts, `province` only with `country` (65310) and `city` only with `province` (65311).
pub fn validate_rule(rule: &MatchRule) -> Result<(), MenuError> {
    if rule.is_empty() {
        return Err(MenuError::new(
            code::MATCH_RULE_EMPTY,
            "a conditional menu's matchrule needs at least one of tag_id, sex, \
             client_platform_type, country, province, city, language",
        ));
    }
    let bad = |field: &str, v: &str, why: &str| {
        MenuError::new(
            code::INVALID_PARAMETER,
            format!("matchrule.{field} {v:?} {why}"),
        )
    };
    if let Some(t) = &rule.tag_id
        && t.parse::<u64>().is_err()
    {
        return Err(bad("tag_id", t, "is not a tag id (a number)"));
    }
    if let Some(s) = &rule.sex
        && !matches!(s.as_str(), "1" | "2")
    {
        return Err(bad("sex", s, "must be 1 (male) or 2 (female)"));
    }
    if let Some(p) = &rule.client_platform_type
        && !matches!(p.as_str(), "1" | "2" | "3")
    {
        return Err(bad(
            "client_platform_type",
            p,
            "must be 1 (iOS), 2 (Android) or 3 (others)",
        ));
    }
    for (field, v) in [
        ("country", &rule.country),
        ("province", &rule.province),
        ("city", &rule.city),
        ("language", &rule.language),
    ] {
        if let Some(v) = v
            && (v.chars().count() > MAX_RULE_VALUE || v.chars().any(is_forbidden_char))
        {
            return Err(bad(
                field,
                v,
                &format!("must be at most {MAX_RULE_VALUE} characters without control characters"),
            ));
        }
    }
    if (rule.province.is_some() || rule.city.is_some()) && rule.country.is_none() {
        return Err(MenuError::new(
            code::COUNTRY_REQUIRED,
            "matchrule with province or city needs country too",
        ));
    }
    if rule.city.is_some() && rule.province.is_none() {
        return Err(MenuError::new(
            code::PROVINCE_REQUIRED,
            "matchrule with city needs province too",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn buttons(v: Value) -> Vec<Button> {
        serde_json::from_value(v).unwrap()
    }

    fn err(v: Value) -> MenuError {
        validate(&buttons(v)).unwrap_err()
    }

    fn ok(v: Value) {
        validate(&buttons(v.clone())).unwrap_or_else(|e| panic!("{v}: {e}"));
    }

    fn click(name: &str) -> Value {
        json!({"type": "click", "name": name, "key": "K"})
    }

    #[test]
    fn the_reference_menu_is_valid() {
        ok(json!([
            {"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC"},
            {"name":"菜单","sub_button":[
                {"type":"view","name":"搜索","url":"http://www.soso.com/"},
                {"type":"miniprogram","name":"wxa","url":"http://mp.weixin.qq.com",
                 "appid":"wx286b93c14bbf93aa","pagepath":"pages/lunar/index"},
                {"type":"click","name":"赞一下我们","key":"V1001_GOOD"}]}]));
    }

    #[test]
    fn top_level_count_is_1_to_3() {
        ok(json!([click("a"), click("b"), click("c")]));
        let e = err(json!([click("a"), click("b"), click("c"), click("d")]));
        assert_eq!(e.errcode, 40016, "{e}");
        assert!(
            e.to_string().starts_with("40016 invalid button size: "),
            "{e}"
        );
        assert!(e.message.contains("4 top-level buttons"), "{e}");
        assert_eq!(err(json!([])).errcode, 40016);
    }

    #[test]
    fn sub_button_count_is_1_to_5_and_two_levels_only() {
        let subs = |n: usize| (0..n).map(|i| click(&format!("s{i}"))).collect::<Vec<_>>();
        ok(json!([{"name": "m", "sub_button": subs(5)}]));
        let e = err(json!([{"name": "m", "sub_button": subs(6)}]));
        assert_eq!(e.errcode, 40023, "{e}");
        assert!(
            e.message.contains("button[0] \"m\" has 6 sub_buttons"),
            "{e}"
        );
        let e = err(json!([{"name": "m", "sub_button": [
            {"name": "deep", "sub_button": [click("x")]}]}]));
        assert_eq!(e.errcode, 40017, "{e}");
        assert!(
            e.message.contains("button[0].sub_button[0] \"deep\""),
            "{e}"
        );
        // An empty sub_button list is a leaf (WeChat's menu/get shows leaves that way).
        ok(json!([{"type": "click", "name": "a", "key": "k", "sub_button": []}]));
        let e =
            err(json!([{"type": "click", "name": "m", "key": "k", "sub_button": [click("x")]}]));
        assert_eq!(e.errcode, 40015, "{e}");
    }

    #[test]
    fn names_are_bounded_in_bytes_per_level() {
        ok(json!([click(&"a".repeat(16))]));
        // 5 Chinese characters are 15 bytes; 6 are 18.
        ok(json!([click("五个中文字")]));
        let e = err(json!([click("六个中文字符")]));
        assert_eq!(e.errcode, 40018, "{e}");
        assert_eq!(err(json!([click(&"a".repeat(17))])).errcode, 40018);
        assert_eq!(err(json!([click("")])).errcode, 40018);
        assert_eq!(err(json!([click("a\nb")])).errcode, 40018);
        let parent = |n: &str| json!([{"name": n, "sub_button": [click("s")]}]);
        ok(parent(&"p".repeat(16)));
        assert_eq!(err(parent(&"p".repeat(17))).errcode, 40018);
        let sub = |n: &str| json!([{"name": "m", "sub_button": [click(n)]}]);
        ok(sub(&"s".repeat(60)));
        assert_eq!(err(sub(&"s".repeat(61))).errcode, 40025);
        assert_eq!(err(sub("")).errcode, 40025);
    }

    #[test]
    fn keys_are_1_to_128_bytes_for_every_keyed_type() {
        for t in KEYED {
            let top = |key: Value| json!([{"type": t, "name": "b", "key": key}]);
            ok(top(json!("k".repeat(128))));
            assert_eq!(err(top(json!("k".repeat(129)))).errcode, 40019, "{t}");
            assert_eq!(err(top(json!(""))).errcode, 40019, "{t}");
            assert_eq!(err(json!([{"type": t, "name": "b"}])).errcode, 40019, "{t}");
            let sub = |key: Value| json!([{"name": "m", "sub_button": [{"type": t, "name": "b", "key": key}]}]);
            ok(sub(json!("k".repeat(128))));
            let e = err(sub(json!("k".repeat(129))));
            assert_eq!(e.errcode, 40026, "{t}");
            assert!(e.message.contains("button[0].sub_button[0] \"b\""), "{e}");
        }
    }

    #[test]
    fn urls_are_http_and_at_most_1024_bytes() {
        let view = |url: &str| json!([{"type": "view", "name": "v", "url": url}]);
        let long = |n: usize| format!("https://a.example/{}", "x".repeat(n - 18));
        assert_eq!(long(1024).len(), 1024);
        ok(view(&long(1024)));
        ok(view("HTTP://example.com"));
        let e = err(view(&long(1025)));
        assert_eq!(e.errcode, 40020, "{e}");
        assert_eq!(err(json!([{"type": "view", "name": "v"}])).errcode, 40020);
        for bad in [
            "ftp://example.com",
            "javascript:alert(1)",
            "https://",
            "https:///x",
            "example.com",
            "https://a b",
        ] {
            let e = err(view(bad));
            assert_eq!(e.errcode, 40055, "{bad}: {e}");
            assert!(
                e.to_string().starts_with("40055 invalid url domain: "),
                "{e}"
            );
        }
        let sub = |url: &str| json!([{"name": "m", "sub_button": [{"type": "view", "name": "v", "url": url}]}]);
        ok(sub(&long(1024)));
        assert_eq!(err(sub(&long(1025))).errcode, 40027);
        assert_eq!(err(sub("ftp://x")).errcode, 40055);
    }

    #[test]
    fn each_type_needs_its_fields() {
        let mp = json!({"type": "miniprogram", "name": "m", "appid": "wx1", "pagepath": "p/i", "url": "https://x.cn"});
        ok(json!([mp.clone()]));
        for field in ["appid", "pagepath"] {
            let mut b = mp.clone();
            b.as_object_mut().unwrap().remove(field);
            let e = err(json!([b.clone()]));
            assert_eq!(e.errcode, 40015, "{e}");
            assert!(e.message.contains(&format!("needs \"{field}\"")), "{e}");
            assert_eq!(
                err(json!([{"name": "p", "sub_button": [b]}])).errcode,
                40024
            );
        }
        let mut b = mp.clone();
        b.as_object_mut().unwrap().remove("url");
        assert_eq!(err(json!([b])).errcode, 40020);
        for t in ["media_id", "view_limited"] {
            ok(json!([{"type": t, "name": "m", "media_id": "MEDIA"}]));
            let e = err(json!([{"type": t, "name": "m"}]));
            assert_eq!(e.errcode, 40015, "{e}");
            assert!(e.message.contains("needs \"media_id\""), "{e}");
            assert_eq!(
                err(json!([{"type": t, "name": "m", "media_id": "x".repeat(257)}])).errcode,
                40015
            );
        }
        for t in ["article_id", "article_view_limited"] {
            ok(json!([{"type": t, "name": "m", "article_id": "ART"}]));
            assert_eq!(err(json!([{"type": t, "name": "m"}])).errcode, 40015);
        }
    }

    #[test]
    fn unknown_or_missing_types_are_refused() {
        let e = err(json!([{"type": "teleport", "name": "t", "key": "k"}]));
        assert_eq!(e.errcode, 40015, "{e}");
        assert!(e.message.contains("unknown type \"teleport\""), "{e}");
        assert_eq!(err(json!([{"name": "t", "key": "k"}])).errcode, 40015);
        let e = err(json!([{"name": "m", "sub_button": [{"type": "teleport", "name": "t"}]}]));
        assert_eq!(e.errcode, 40024, "{e}");
        assert!(
            e.to_string().starts_with("40024 invalid sub button type: "),
            "{e}"
        );
    }

    #[test]
    fn errors_become_typed_plaza_errors_with_the_code_first() {
        let e: PlazaError = err(json!([])).into();
        assert_eq!(e.code(), "invalid");
        assert!(
            e.message().starts_with("40016 invalid button size: "),
            "{e}"
        );
        assert_eq!(wechat_errcode::of(&e), 40016);
        assert_eq!(wechat_errcode::of(&PlazaError::internal("disk")), -1);
        let nf: PlazaError = MenuError::new(65301, "menuid 9").into();
        assert_eq!((nf.code(), wechat_errcode::of(&nf)), ("not_found", 65301));
        let limit: PlazaError = MenuError::new(65305, "20").into();
        assert_eq!(limit.code(), "quota_exceeded");
        for (c, m) in wechat_errcode::TABLE {
            assert_eq!(wechat_errcode::meaning(*c), Some(*m));
        }
    }

    fn rule(v: Value) -> MatchRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn match_rules() {
        validate_rule(&rule(json!({"tag_id": "123"}))).unwrap();
        validate_rule(&rule(json!({"tag_id": 123}))).unwrap();
        validate_rule(&rule(json!({"sex": "1", "country": "中国", "province": "广东", "city": "广州", "language": "zh_CN", "client_platform_type": "2"}))).unwrap();
        // Empty strings are absent fields (SDKs send every field).
        let e = validate_rule(&rule(json!({"tag_id": "", "sex": ""}))).unwrap_err();
        assert_eq!(e.errcode, 65304, "{e}");
        assert_eq!(validate_rule(&rule(json!({}))).unwrap_err().errcode, 65304);
        assert_eq!(
            validate_rule(&rule(json!({"tag_id": "vip"})))
                .unwrap_err()
                .errcode,
            40035
        );
        assert_eq!(
            validate_rule(&rule(json!({"sex": "3"})))
                .unwrap_err()
                .errcode,
            40035
        );
        assert_eq!(
            validate_rule(&rule(json!({"client_platform_type": "4"})))
                .unwrap_err()
                .errcode,
            40035
        );
        assert_eq!(
            validate_rule(&rule(json!({"province": "广东"})))
                .unwrap_err()
                .errcode,
            65310
        );
        assert_eq!(
            validate_rule(&rule(json!({"country": "中国", "city": "广州"})))
                .unwrap_err()
                .errcode,
            65311
        );
        assert_eq!(
            validate_rule(&rule(json!({"language": "x".repeat(65)})))
                .unwrap_err()
                .errcode,
            40035
        );
    }
}
