//! The envelope around a push or reply in each mode: plain (signed URL, clear XML), compatible
//! (clear fields **and** `<Encrypt>` in one body) and secure (only `<Encrypt>`), for both sides —
//! Plaza receiving WeChat's pushes (bridge) and Plaza pushing to a developer server.

use serde::{Deserialize, Serialize};

use super::crypto::SecureKey;
use super::signature::{matches, msg_signature, signature};
use super::xml::{Element, XmlWriter, parse};

/// 消息加解密方式.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Plain,
    Compatible,
    Secure,
}

impl Mode {
    pub fn encrypts(self) -> bool {
        self != Mode::Plain
    }
}

/// Why a push or reply was refused. Each is logged as a security event by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the signature is missing or wrong")]
    BadSignature,
    #[error("the msg_signature is missing or wrong")]
    BadMsgSignature,
    #[error("this account is in secure mode: a push must be encrypted")]
    NotEncrypted,
    #[error("the push is encrypted but no EncodingAESKey is configured")]
    NoKey,
    #[error("{0}")]
    Crypto(#[from] super::crypto::CryptoError),
    #[error("{0}")]
    Xml(#[from] super::xml::XmlError),
    #[error("the encrypted message is not UTF-8")]
    NotUtf8,
}

/// The URL parameters of a push.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PushQuery {
    pub signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub openid: Option<String>,
    pub encrypt_type: Option<String>,
    pub msg_signature: Option<String>,
    /// Only on the GET handshake.
    pub echostr: Option<String>,
}

impl PushQuery {
    /// Checks the plain signature every request carries.
    pub fn verify_signature(&self, token: &str) -> Result<(), EnvelopeError> {
        let (Some(sig), Some(ts), Some(nonce)) = (&self.signature, &self.timestamp, &self.nonce)
        else {
            return Err(EnvelopeError::BadSignature);
        };
        if matches(sig, &signature(token, ts, nonce)) {
            Ok(())
        } else {
            Err(EnvelopeError::BadSignature)
        }
    }

    fn encrypted(&self) -> bool {
        self.encrypt_type.as_deref() == Some("aes")
    }
}

/// A push opened: the message document, and whether it came encrypted (the reply then goes
/// back encrypted).
pub struct Opened {
    pub doc: Element,
    pub encrypted: bool,
}

/// Opens a push received in `mode`: checks the signature, and in encrypted modes the
/// `msg_signature`, decrypts, and reads the message.
pub fn open_push(
    query: &PushQuery,
    body: &str,
    token: &str,
    key: Option<&SecureKey>,
    mode: Mode,
) -> Result<Opened, EnvelopeError> {
    query.verify_signature(token)?;
    let outer = parse(body)?;
    if !query.encrypted() {
        if mode == Mode::Secure {
            return Err(EnvelopeError::NotEncrypted);
        }
        return Ok(Opened {
            doc: outer,
            encrypted: false,
        });
    }
    let key = key.ok_or(EnvelopeError::NoKey)?;
    let encrypt = outer
        .non_empty("Encrypt")
        .ok_or(EnvelopeError::BadMsgSignature)?;
    let (Some(ms), Some(ts), Some(nonce)) = (&query.msg_signature, &query.timestamp, &query.nonce)
    else {
        return Err(EnvelopeError::BadMsgSignature);
    };
    if !matches(ms, &msg_signature(token, ts, nonce, encrypt)) {
        return Err(EnvelopeError::BadMsgSignature);
    }
    let plain = key.decrypt(encrypt)?;
    let text = String::from_utf8(plain).map_err(|_| EnvelopeError::NotUtf8)?;
    Ok(Opened {
        doc: parse(&text)?,
        encrypted: true,
    })
}

/// The encrypted reply envelope: `Encrypt`, `MsgSignature`, `TimeStamp`, `Nonce`.
pub fn seal_reply(xml: &str, token: &str, key: &SecureKey, timestamp: &str, nonce: &str) -> String {
    let encrypt = key.encrypt(xml.as_bytes());
    let mut w = XmlWriter::new();
    w.cdata("Encrypt", &encrypt)
        .cdata(
            "MsgSignature",
            &msg_signature(token, timestamp, nonce, &encrypt),
        )
        .bare("TimeStamp", timestamp)
        .cdata("Nonce", nonce);
    w.finish()
}

/// A push sealed for a developer server: the URL parameters and the body.
pub struct Sealed {
    pub query: Vec<(&'static str, String)>,
    pub body: String,
}

/// Seals a push for a developer server in `mode`. `xml` is the message (`write_push`).
#[allow(clippy::too_many_arguments)]
pub fn seal_push(
    xml: &str,
    original_id: &str,
    openid: &str,
    mode: Mode,
    token: &str,
    key: Option<&SecureKey>,
    timestamp: &str,
    nonce: &str,
) -> Sealed {
    let mut query = vec![
        ("signature", signature(token, timestamp, nonce)),
        ("timestamp", timestamp.to_string()),
        ("nonce", nonce.to_string()),
        ("openid", openid.to_string()),
    ];
    let key = match (mode, key) {
        (Mode::Plain, _) | (_, None) => {
            return Sealed {
                query,
                body: xml.to_string(),
            };
        }
        (_, Some(k)) => k,
    };
    let encrypt = key.encrypt(xml.as_bytes());
    query.push(("encrypt_type", "aes".into()));
    query.push((
        "msg_signature",
        msg_signature(token, timestamp, nonce, &encrypt),
    ));
    let body = if mode == Mode::Compatible {
        // The clear fields and the ciphertext side by side, in one `<xml>`.
        let mut tail = XmlWriter::new();
        tail.cdata("Encrypt", &encrypt);
        let tail = tail.finish();
        let inner = tail
            .strip_prefix("<xml>")
            .and_then(|t| t.strip_suffix("</xml>"))
            .unwrap_or_default();
        match xml.strip_suffix("</xml>") {
            Some(head) => format!("{head}{inner}</xml>"),
            None => xml.to_string(),
        }
    } else {
        let mut w = XmlWriter::new();
        w.cdata("ToUserName", original_id)
            .cdata("Encrypt", &encrypt);
        w.finish()
    };
    Sealed { query, body }
}

/// Opens a developer server's reply: `None` for no reply (`success` or an empty body); an
/// encrypted envelope is checked against its own `TimeStamp`/`Nonce` and decrypted.
pub fn open_reply(
    body: &str,
    token: &str,
    key: Option<&SecureKey>,
) -> Result<Option<Element>, EnvelopeError> {
    let body = body.trim();
    if body.is_empty() || body == "success" {
        return Ok(None);
    }
    let doc = parse(body)?;
    let Some(encrypt) = doc.non_empty("Encrypt") else {
        return Ok(Some(doc));
    };
    let key = key.ok_or(EnvelopeError::NoKey)?;
    let ms = doc.text_of("MsgSignature").unwrap_or_default();
    let ts = doc.text_of("TimeStamp").unwrap_or_default();
    let nonce = doc.text_of("Nonce").unwrap_or_default();
    if !matches(ms, &msg_signature(token, ts, nonce, encrypt)) {
        return Err(EnvelopeError::BadMsgSignature);
    }
    let plain = String::from_utf8(key.decrypt(encrypt)?).map_err(|_| EnvelopeError::NotUtf8)?;
    Ok(Some(parse(&plain)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "mytoken";
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APPID: &str = "wx1234567890abcdef";
    const MSG: &str = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>1</MsgId></xml>";

    fn key() -> SecureKey {
        SecureKey::new(KEY, APPID).unwrap()
    }

    fn query_of(s: &Sealed) -> PushQuery {
        let get = |n: &str| {
            s.query
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
        };
        PushQuery {
            signature: get("signature"),
            timestamp: get("timestamp"),
            nonce: get("nonce"),
            openid: get("openid"),
            encrypt_type: get("encrypt_type"),
            msg_signature: get("msg_signature"),
            echostr: None,
        }
    }

    #[test]
    fn a_sealed_push_opens_in_every_mode() {
        let k = key();
        for mode in [Mode::Plain, Mode::Compatible, Mode::Secure] {
            let s = seal_push(MSG, "gh_1", "o1", mode, TOKEN, Some(&k), "1700000000", "42");
            if mode == Mode::Compatible {
                let outer = parse(&s.body).unwrap();
                assert_eq!(outer.text_of("Content"), Some("hi"), "clear fields too");
                assert!(outer.non_empty("Encrypt").is_some());
            }
            if mode == Mode::Secure {
                // Only the ciphertext (which may contain "hi" by chance: look for the field).
                let outer = parse(&s.body).unwrap();
                assert_eq!(outer.text_of("Content"), None);
                assert!(!s.body.contains("<Content>"));
            }
            let opened = open_push(&query_of(&s), &s.body, TOKEN, Some(&k), mode).unwrap();
            assert_eq!(opened.encrypted, mode.encrypts());
            assert_eq!(opened.doc.text_of("Content"), Some("hi"));
        }
    }

    #[test]
    fn bad_signatures_keys_and_modes_are_refused() {
        let k = key();
        let s = seal_push(MSG, "gh_1", "o1", Mode::Secure, TOKEN, Some(&k), "1", "2");
        let q = query_of(&s);
        assert_eq!(
            open_push(&q, &s.body, "other", Some(&k), Mode::Secure).err(),
            Some(EnvelopeError::BadSignature)
        );
        let mut no_sig = q.clone();
        no_sig.signature = None;
        assert_eq!(
            open_push(&no_sig, &s.body, TOKEN, Some(&k), Mode::Secure).err(),
            Some(EnvelopeError::BadSignature)
        );
        let mut bad_ms = q.clone();
        bad_ms.msg_signature = Some("0".repeat(40));
        assert_eq!(
            open_push(&bad_ms, &s.body, TOKEN, Some(&k), Mode::Secure).err(),
            Some(EnvelopeError::BadMsgSignature)
        );
        assert_eq!(
            open_push(&q, &s.body, TOKEN, None, Mode::Secure).err(),
            Some(EnvelopeError::NoKey)
        );
        let plain = seal_push(MSG, "gh_1", "o1", Mode::Plain, TOKEN, Some(&k), "1", "2");
        assert_eq!(
            open_push(
                &query_of(&plain),
                &plain.body,
                TOKEN,
                Some(&k),
                Mode::Secure
            )
            .err(),
            Some(EnvelopeError::NotEncrypted)
        );
        let other_app = SecureKey::new(KEY, "wx0000000000000000").unwrap();
        assert!(matches!(
            open_push(&q, &s.body, TOKEN, Some(&other_app), Mode::Secure).err(),
            Some(EnvelopeError::Crypto(_))
        ));
    }

    #[test]
    fn replies_open_plain_encrypted_or_empty() {
        let k = key();
        assert!(open_reply("", TOKEN, Some(&k)).unwrap().is_none());
        assert!(open_reply(" success\n", TOKEN, Some(&k)).unwrap().is_none());
        let plain = open_reply(MSG, TOKEN, None).unwrap().unwrap();
        assert_eq!(plain.text_of("Content"), Some("hi"));
        // Its own (ms) timestamp and numeric nonce, as node `wechat` writes them.
        let sealed = seal_reply(MSG, TOKEN, &k, "1700000000123", "987654");
        let opened = open_reply(&sealed, TOKEN, Some(&k)).unwrap().unwrap();
        assert_eq!(opened.text_of("Content"), Some("hi"));
        let forged = sealed.replace("987654", "987655");
        assert_eq!(
            open_reply(&forged, TOKEN, Some(&k)).err(),
            Some(EnvelopeError::BadMsgSignature)
        );
        assert!(open_reply("{\"json\":1}", TOKEN, None).is_err());
    }
}
