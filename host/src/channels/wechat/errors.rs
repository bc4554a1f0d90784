//! What a failed call to WeChat's server API means for Plaza: the typed [`PlazaError`] a caller
//! sees (with WeChat's code and message in it, so an operator can look it up), whether the
//! token must be refreshed, and whether the durable outbound queue should try again.
//!
//! The reverse direction (Plaza answering WeChat-style clients) keeps its own table in
//! `wechat_api::errcode`; the two are reconciled there.

use crate::error::PlazaError;

/// access_token invalid or not the latest / invalid access_token / access_token expired: the
/// token is dropped, fetched again once, and the call retried once.
pub const TOKEN_ERRORS: [i64; 3] = [40001, 40014, 42001];

/// A failed call to WeChat's server API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatError {
    /// WeChat answered `{"errcode":N,"errmsg":…}` with N ≠ 0.
    #[error("WeChat error {code}: {errmsg}")]
    Api { code: i64, errmsg: String },
    /// The request did not get a WeChat answer: connection, TLS, timeout, non-2xx status, or a
    /// body that is not the JSON WeChat sends.
    #[error("WeChat API unreachable: {0}")]
    Transport(String),
    /// Plaza cannot express the request (e.g. a content type WeChat has no such message for).
    #[error("{0}")]
    Unsupported(String),
}

impl WechatError {
    pub fn code(&self) -> Option<i64> {
        match self {
            WechatError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the token was refused (see [`TOKEN_ERRORS`]).
    pub fn is_token_error(&self) -> bool {
        self.code().is_some_and(|c| TOKEN_ERRORS.contains(&c))
    }

    /// Whether sending the same request later can succeed without anyone changing it: WeChat
    /// busy, quotas that reset, an unreachable API, and credential problems an operator can fix
    /// in the bridge settings (the message itself is fine). Everything else WeChat refuses —
    /// outside the 48 h window, not following, bad openid, no permission, bad content — is
    /// permanent: retrying would only burn quota.
    pub fn is_transient(&self) -> bool {
        match self {
            WechatError::Transport(_) => true,
            WechatError::Unsupported(_) => false,
            WechatError::Api { code, .. } => matches!(
                code,
                -1 | 45009
                    | 45011
                    | 40001
                    | 40014
                    | 42001
                    | 41001
                    | 40013
                    | 40125
                    | 40164
                    | 41002
                    | 41004
            ),
        }
    }
}

/// The meaning of the codes Plaza reacts to, added to WeChat's own (terse, often Chinese or
/// `rid:`-suffixed) message.
fn meaning(code: i64) -> Option<&'static str> {
    Some(match code {
        -1 => "WeChat is busy; try again later",
        40001 | 40014 => "the access token was refused (wrong AppSecret, or a newer token exists)",
        42001 => "the access token expired",
        40003 => "invalid openid for this account",
        40013 => "invalid AppID",
        40037 => "invalid template_id",
        40125 => "invalid AppSecret",
        40164 => "this server's IP address is not in the account's IP whitelist",
        43004 => "the recipient does not follow the account",
        43019 => "the recipient is blacklisted",
        45009 => "the account's daily API quota is used up",
        45011 => "API calls too frequent",
        45015 => {
            "the follower has not interacted within 48 h (customer-service window), or unsubscribed"
        }
        45047 => "the customer-service message count for this interaction is used up",
        47003 => "a template argument is invalid",
        48001 => {
            "the WeChat account is not authorised for this API (type, verification or permission)"
        }
        48002 => "the follower refuses messages from this account",
        48008 => "the account may not send this message type",
        _ => return None,
    })
}

impl From<WechatError> for PlazaError {
    fn from(e: WechatError) -> Self {
        let (code, errmsg) = match &e {
            WechatError::Api { code, errmsg } => (*code, errmsg.as_str()),
            WechatError::Transport(_) => return PlazaError::Unavailable(e.to_string()),
            WechatError::Unsupported(m) => return PlazaError::Invalid(m.clone()),
        };
        let message = match meaning(code) {
            Some(m) => format!("WeChat error {code}: {m} ({errmsg})"),
            None => format!("WeChat error {code}: {errmsg}"),
        };
        match code {
            45009 | 45011 | 45047 => PlazaError::QuotaExceeded {
                message,
                resets_at: None,
            },
            45015 => PlazaError::OutsideWindow(message),
            48001 | 48002 | 48008 | 40164 => PlazaError::PermissionDenied(message),
            40001 | 40014 | 42001 | 40013 | 40125 | 41001 | 41002 | 41004 => {
                PlazaError::Unauthorized(message)
            }
            -1 => PlazaError::Unavailable(message),
            c if (40000..50000).contains(&c) => PlazaError::Invalid(message),
            _ => PlazaError::Unavailable(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: i64) -> WechatError {
        WechatError::Api {
            code,
            errmsg: "msg rid: 1".into(),
        }
    }

    #[test]
    fn codes_map_to_typed_errors_with_their_meaning() {
        let e = PlazaError::from(api(45015));
        assert!(
            matches!(&e, PlazaError::OutsideWindow(m) if m.contains("45015") && m.contains("48 h"))
        );
        assert!(matches!(
            PlazaError::from(api(45047)),
            PlazaError::QuotaExceeded { .. }
        ));
        assert!(matches!(
            PlazaError::from(api(45009)),
            PlazaError::QuotaExceeded { message, .. } if message.contains("daily")
        ));
        assert!(matches!(
            PlazaError::from(api(48001)),
            PlazaError::PermissionDenied(_)
        ));
        assert!(
            matches!(PlazaError::from(api(43004)), PlazaError::Invalid(m) if m.contains("follow"))
        );
        assert!(
            matches!(PlazaError::from(api(99999)), PlazaError::Unavailable(m) if m == "WeChat error 99999: msg rid: 1")
        );
        assert!(matches!(
            PlazaError::from(WechatError::Transport("refused".into())),
            PlazaError::Unavailable(_)
        ));
    }

    #[test]
    fn transient_and_permanent() {
        for c in [-1, 45009, 40001, 42001] {
            assert!(api(c).is_transient(), "{c}");
        }
        for c in [45015, 45047, 43004, 40003, 48001, 40037, 47003] {
            assert!(!api(c).is_transient(), "{c}");
        }
        assert!(api(40014).is_token_error() && !api(45015).is_token_error());
    }
}
