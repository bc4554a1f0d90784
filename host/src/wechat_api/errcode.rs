//! WeChat error codes: how a [`PlazaError`] reads to WeChat bot code (`{"errcode","errmsg"}`), and
//! how an errcode from a real WeChat server reads to Plaza (for the WeChat channel's bridge).
//!
//! SDKs react to a few codes (see the reference §2.1): 40001, 40014 and 42001 make wechatpy fetch a
//! new token and retry **without limit**, so those three are answered only by token checks, never
//! by a mapping of a platform refusal; 45009 raises wechatpy's `APILimitedException`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::PlazaError;

/// A WeChat API error, answered as HTTP 200 `{"errcode":N,"errmsg":"…"}` like WeChat does (a
/// non-2xx status makes wechatpy raise with no errcode at all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WxError {
    pub errcode: i64,
    pub errmsg: String,
}

impl WxError {
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        WxError {
            errcode,
            errmsg: errmsg.into(),
        }
    }

    /// `errmsg` is WeChat's canonical text, then Plaza's own explanation after `: `.
    fn with(errcode: i64, canonical: &str, detail: &str) -> Self {
        if detail.is_empty() {
            WxError::new(errcode, canonical)
        } else {
            WxError::new(errcode, format!("{canonical}: {detail}"))
        }
    }

    pub fn bad_json(detail: impl std::fmt::Display) -> Self {
        WxError::new(47001, format!("data format error: {detail}"))
    }
    pub fn invalid_args(detail: impl std::fmt::Display) -> Self {
        WxError::new(40035, format!("invalid args: {detail}"))
    }
    pub fn missing_token() -> Self {
        WxError::new(41001, "access_token missing")
    }
    pub fn invalid_token() -> Self {
        WxError::new(
            40001,
            "invalid credential, access_token is invalid or not latest",
        )
    }
    pub fn expired_token() -> Self {
        WxError::new(42001, "access_token expired")
    }
    pub fn invalid_msgtype(msgtype: &str) -> Self {
        WxError::new(40008, format!("invalid message type: {msgtype:?}"))
    }
}

impl IntoResponse for WxError {
    fn into_response(self) -> Response {
        if self.errcode == -1 {
            tracing::error!(errmsg = %self.errmsg, "internal error answering a /cgi-bin request");
        }
        Json(self).into_response()
    }
}

/// Which API refused: the same Plaza refusal has a different WeChat code per API (a quota is the
/// broadcast quota in `mass/*`, the tag limit in `tags/create`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    CustomSend,
    TemplateSend,
    TemplateManage,
    Mass,
    TagCreate,
    TagMembers,
    Tags,
    Users,
    DataCube,
}

/// The WeChat error for a platform refusal `e` answered by `api`.
pub fn wx_error(e: &PlazaError, api: Api) -> WxError {
    let m = e.message();
    let m = m.as_str();
    match e {
        PlazaError::OutsideWindow(_) => WxError::with(
            45015,
            "response out of time limit or subscription is canceled",
            m,
        ),
        PlazaError::QuotaExceeded { .. } => match api {
            Api::Mass => WxError::with(45028, "has no masssend quota", m),
            Api::TemplateManage => WxError::with(45026, "template num exceeds limit", m),
            Api::TagCreate => WxError::with(45056, "too many tags", m),
            Api::TagMembers => WxError::with(45059, "this user has too many tags", m),
            Api::CustomSend => WxError::with(45047, "out of response count limit", m),
            _ => WxError::with(45009, "reach max api daily quota limit", m),
        },
        PlazaError::PermissionDenied(_)
            if m.starts_with("message blocked by") || m.starts_with("broadcast blocked by") =>
        {
            WxError::with(87014, "risky content", m)
        }
        // Platform rules on the account (kind, verification) and ungranted capabilities.
        PlazaError::PermissionDenied(_) | PlazaError::Unauthorized(_) => {
            WxError::with(48001, "api unauthorized", m)
        }
        PlazaError::NotFound(_) => {
            if m.starts_with("follower") || m.starts_with("no follower") {
                WxError::with(40003, "invalid openid", m)
            } else if m.starts_with("template") {
                WxError::with(40037, "invalid template_id", m)
            } else if m.starts_with("tag") || m.starts_with("no tag") {
                WxError::with(45159, "invalid tag id", m)
            } else {
                WxError::with(40035, "invalid args", m)
            }
        }
        PlazaError::Invalid(_) if m.contains("has unsubscribed") => {
            WxError::with(43004, "require subscribe", m)
        }
        PlazaError::Invalid(_) if api == Api::TemplateSend => {
            WxError::with(47003, "argument invalid", m)
        }
        PlazaError::Invalid(_) if api == Api::TagCreate && m.contains("tag") => {
            WxError::with(45157, "invalid tag name", m)
        }
        PlazaError::Invalid(_) => WxError::with(40035, "invalid args", m),
        PlazaError::TooLarge(_) if api == Api::TagMembers || api == Api::Users => {
            WxError::with(40032, "invalid openid list size", m)
        }
        PlazaError::TooLarge(_) => WxError::with(45002, "content size out of limit", m),
        PlazaError::Conflict(_) if m.starts_with("template") => {
            WxError::with(40037, "invalid template_id", m)
        }
        PlazaError::Conflict(_) if m.starts_with("tag") => {
            WxError::with(45157, "invalid tag name", m)
        }
        PlazaError::Conflict(_) => WxError::with(40035, "invalid args", m),
        PlazaError::Unavailable(_) | PlazaError::Internal(_) => {
            WxError::with(-1, "system error", m)
        }
    }
}

/// The platform refusal an errcode from a real WeChat server means, with WeChat's meaning and its
/// own errmsg in the message (for the WeChat channel, which relays Plaza sends to WeChat).
pub fn plaza_error_for(errcode: i64, errmsg: &str) -> PlazaError {
    let say = |meaning: &str| format!("WeChat errcode {errcode} ({meaning}): {errmsg}");
    match errcode {
        40001 | 40014 | 42001 | 41001 => {
            PlazaError::Unauthorized(say("access token invalid or expired"))
        }
        40013 | 40125 | 40164 | 41002 | 41004 => {
            PlazaError::Unauthorized(say("AppID, AppSecret or caller IP refused"))
        }
        45009 => PlazaError::QuotaExceeded {
            message: say("daily API quota reached"),
            resets_at: None,
        },
        45011 => PlazaError::QuotaExceeded {
            message: say("API called too often"),
            resets_at: None,
        },
        45047 => PlazaError::QuotaExceeded {
            message: say("customer-service message count limit reached"),
            resets_at: None,
        },
        45028 => PlazaError::QuotaExceeded {
            message: say("no broadcast quota left"),
            resets_at: None,
        },
        45026 | 45056 | 45059 => PlazaError::QuotaExceeded {
            message: say("count limit reached"),
            resets_at: None,
        },
        45015 => PlazaError::OutsideWindow(say(
            "response out of time limit: the follower has not interacted within 48 h",
        )),
        48001 => PlazaError::PermissionDenied(say("API unauthorized for this account")),
        48004 => PlazaError::PermissionDenied(say("API banned for this account")),
        48002 | 43101 => PlazaError::PermissionDenied(say("the follower refuses messages")),
        43019 => PlazaError::PermissionDenied(say("the follower is blacklisted")),
        50001 | 50002 => PlazaError::PermissionDenied(say("user not authorised or limited")),
        87014 => PlazaError::PermissionDenied(say("content refused as risky")),
        43004 => PlazaError::invalid(say("the follower is not following the account")),
        40003 | 46004 => PlazaError::not_found(say("unknown openid")),
        40037 => PlazaError::not_found(say("unknown template_id")),
        40007 | 46001 => PlazaError::not_found(say("unknown media_id")),
        45159 => PlazaError::not_found(say("unknown tag id")),
        45065 => PlazaError::Conflict(say("clientmsgid already used within 24 h")),
        45001..=45008 | 40006 | 40009 => PlazaError::TooLarge(say("size or count limit")),
        -1 => PlazaError::Unavailable(say("system busy")),
        40002..=40099 | 41000..=41999 | 44000..=44999 | 47001..=47999 | 61500 | 61501 => {
            PlazaError::invalid(say("invalid request"))
        }
        _ => PlazaError::Unavailable(say("unexpected WeChat error")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_refusals_read_as_wechat_codes() {
        let window = PlazaError::OutsideWindow("last interacted 3 days ago".into());
        let e = wx_error(&window, Api::CustomSend);
        assert_eq!(e.errcode, 45015);
        assert!(e.errmsg.starts_with("response out of time limit"), "{e:?}");
        let quota = PlazaError::QuotaExceeded {
            message: "already broadcast today".into(),
            resets_at: Some(1),
        };
        assert_eq!(wx_error(&quota, Api::Mass).errcode, 45028);
        assert_eq!(wx_error(&quota, Api::TemplateSend).errcode, 45009);
        assert_eq!(wx_error(&quota, Api::TagCreate).errcode, 45056);
        let rights = PlazaError::PermissionDenied(
            "template messages need a verified service account".into(),
        );
        let e = wx_error(&rights, Api::TemplateSend);
        assert_eq!(
            (e.errcode, e.errmsg.starts_with("api unauthorized")),
            (48001, true)
        );
        let blocked =
            PlazaError::PermissionDenied("message blocked by mod: spam (review id r1)".into());
        assert_eq!(wx_error(&blocked, Api::CustomSend).errcode, 87014);
        assert_eq!(
            wx_error(
                &PlazaError::not_found("follower \"o\" of account \"a\""),
                Api::CustomSend
            )
            .errcode,
            40003
        );
        assert_eq!(
            wx_error(
                &PlazaError::not_found("template \"t\" of account \"a\""),
                Api::TemplateSend
            )
            .errcode,
            40037
        );
        assert_eq!(
            wx_error(
                &PlazaError::invalid("follower \"o\" has unsubscribed"),
                Api::CustomSend
            )
            .errcode,
            43004
        );
        assert_eq!(
            wx_error(&PlazaError::invalid("x"), Api::TemplateSend).errcode,
            47003
        );
        assert_eq!(
            wx_error(&PlazaError::invalid("x"), Api::CustomSend).errcode,
            40035
        );
        assert_eq!(
            wx_error(&PlazaError::TooLarge("x".into()), Api::CustomSend).errcode,
            45002
        );
        assert_eq!(
            wx_error(&PlazaError::internal("disk"), Api::Users).errcode,
            -1
        );
    }

    #[test]
    fn no_platform_refusal_reads_as_a_token_error() {
        // wechatpy retries 40001/40014/42001 forever: a refusal must never look like one.
        let all = [
            PlazaError::not_found("x"),
            PlazaError::PermissionDenied("x".into()),
            PlazaError::Unauthorized("x".into()),
            PlazaError::QuotaExceeded {
                message: "x".into(),
                resets_at: None,
            },
            PlazaError::OutsideWindow("x".into()),
            PlazaError::invalid("x"),
            PlazaError::TooLarge("x".into()),
            PlazaError::Conflict("x".into()),
            PlazaError::Unavailable("x".into()),
            PlazaError::internal("x"),
        ];
        let apis = [
            Api::CustomSend,
            Api::TemplateSend,
            Api::TemplateManage,
            Api::Mass,
            Api::TagCreate,
            Api::TagMembers,
            Api::Tags,
            Api::Users,
            Api::DataCube,
        ];
        for e in &all {
            for api in apis {
                let code = wx_error(e, api).errcode;
                assert!(
                    ![40001, 40014, 42001, 0].contains(&code),
                    "{e:?} {api:?} → {code}"
                );
            }
        }
    }

    #[test]
    fn wechat_codes_read_as_platform_refusals() {
        assert!(matches!(
            plaza_error_for(45015, "x"),
            PlazaError::OutsideWindow(_)
        ));
        assert!(matches!(
            plaza_error_for(45009, "x"),
            PlazaError::QuotaExceeded { .. }
        ));
        assert!(matches!(
            plaza_error_for(45047, "x"),
            PlazaError::QuotaExceeded { .. }
        ));
        assert!(matches!(
            plaza_error_for(48001, "x"),
            PlazaError::PermissionDenied(_)
        ));
        assert!(matches!(
            plaza_error_for(40001, "x"),
            PlazaError::Unauthorized(_)
        ));
        assert!(matches!(
            plaza_error_for(42001, "x"),
            PlazaError::Unauthorized(_)
        ));
        assert!(matches!(
            plaza_error_for(43004, "x"),
            PlazaError::Invalid(_)
        ));
        assert!(matches!(
            plaza_error_for(40003, "x"),
            PlazaError::NotFound(_)
        ));
        assert!(matches!(
            plaza_error_for(-1, "busy"),
            PlazaError::Unavailable(_)
        ));
        let e = plaza_error_for(45015, "response out of time limit rid: 1");
        assert!(
            e.message().contains("45015") && e.message().contains("48 h"),
            "{e}"
        );
        assert!(e.message().contains("rid: 1"));
    }
}
