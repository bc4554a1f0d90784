//! WeChat Pay (API v2 style) pieces that need no host: the flat `<xml>` documents the provider
//! posts, the signature (`sign_type` MD5 or HMAC-SHA256 over the sorted non-empty `k=v` pairs
//! joined by `&`, plus `&key=API_KEY`, upper-case hex), its constant-time check, and the answers.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Parses a flat `<xml><k>v</k>…</xml>` document (values plain, entity-escaped or CDATA).
/// Nested elements, attributes and unclosed tags are refused.
pub fn parse_xml(text: &str) -> Result<BTreeMap<String, String>, String> {
    let body = text.trim();
    let body = body
        .strip_prefix("<?xml")
        .map(|rest| rest.split_once("?>").map_or("", |(_, r)| r).trim())
        .unwrap_or(body);
    let inner = body
        .strip_prefix("<xml>")
        .and_then(|r| r.strip_suffix("</xml>"))
        .ok_or("the body is not an <xml>…</xml> document")?;
    let mut out = BTreeMap::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let after_lt = rest.strip_prefix('<').ok_or("text outside an element")?;
        let end = after_lt.find('>').ok_or("unclosed tag")?;
        let name = &after_lt[..end];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("bad element name {name:?}"));
        }
        let content_and_more = &after_lt[end + 1..];
        let close = format!("</{name}>");
        let value = if let Some(cdata) = content_and_more.strip_prefix("<![CDATA[") {
            let stop = cdata.find("]]>").ok_or("unclosed CDATA")?;
            let value = cdata[..stop].to_string();
            rest = cdata[stop + 3..]
                .strip_prefix(close.as_str())
                .ok_or_else(|| format!("<{name}> is not closed after its CDATA"))?;
            value
        } else {
            let stop = content_and_more
                .find(close.as_str())
                .ok_or_else(|| format!("<{name}> is not closed"))?;
            let raw = &content_and_more[..stop];
            if raw.contains('<') {
                return Err(format!("<{name}> has nested elements"));
            }
            rest = &content_and_more[stop + close.len()..];
            unescape(raw)
        };
        if out.insert(name.to_string(), value).is_some() {
            return Err(format!("<{name}> appears twice"));
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

fn unescape(raw: &str) -> String {
    raw.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Signature algorithm, from the document's `sign_type` (absent = MD5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignType {
    Md5,
    HmacSha256,
}

impl SignType {
    /// From `sign_type`; `None` for an unknown one.
    pub fn parse(value: Option<&str>) -> Option<SignType> {
        match value {
            None | Some("") | Some("MD5") => Some(SignType::Md5),
            Some("HMAC-SHA256") => Some(SignType::HmacSha256),
            _ => None,
        }
    }
}

/// The string that is signed: sorted non-empty `k=v` pairs except `sign`, `&key=API_KEY`.
pub fn string_to_sign(params: &BTreeMap<String, String>, api_key: &str) -> String {
    let mut parts: Vec<String> = params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.push(format!("key={api_key}"));
    parts.join("&")
}

/// The signature of `params` (upper-case hex).
pub fn sign(params: &BTreeMap<String, String>, api_key: &str, kind: SignType) -> String {
    let text = string_to_sign(params, api_key);
    match kind {
        SignType::Md5 => hex::encode_upper(Md5::digest(text.as_bytes())),
        SignType::HmacSha256 => {
            // HMAC accepts keys of any length; this cannot fail.
            let mut mac = match Hmac::<Sha256>::new_from_slice(api_key.as_bytes()) {
                Ok(m) => m,
                Err(_) => return String::new(),
            };
            mac.update(text.as_bytes());
            hex::encode_upper(mac.finalize().into_bytes())
        }
    }
}

/// Whether `params["sign"]` is the right signature, compared in constant time.
pub fn verify(params: &BTreeMap<String, String>, api_key: &str) -> bool {
    let Some(kind) = SignType::parse(params.get("sign_type").map(String::as_str)) else {
        return false;
    };
    let Some(given) = params.get("sign") else {
        return false;
    };
    let expected = sign(params, api_key, kind);
    !expected.is_empty()
        && bool::from(
            expected
                .as_bytes()
                .ct_eq(given.trim().to_ascii_uppercase().as_bytes()),
        )
}

/// The answer the provider expects: `SUCCESS` stops its retries, `FAIL` makes it retry.
pub fn answer_xml(success: bool, message: &str) -> String {
    let code = if success { "SUCCESS" } else { "FAIL" };
    let message = message.replace("]]>", "]]&gt;");
    format!(
        "<xml><return_code><![CDATA[{code}]]></return_code><return_msg><![CDATA[{message}]]></return_msg></xml>"
    )
}

/// The JSAPI parameters the buyer's page hands to `WeixinJSBridge.invoke('getBrandWCPayRequest')`,
/// signed (MD5) with the API key.
pub fn jsapi_params(
    appid: &str,
    prepay_id: &str,
    nonce: &str,
    timestamp_s: u64,
    api_key: &str,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("appId".to_string(), appid.to_string());
    p.insert("timeStamp".to_string(), timestamp_s.to_string());
    p.insert("nonceStr".to_string(), nonce.to_string());
    p.insert("package".to_string(), format!("prepay_id={prepay_id}"));
    p.insert("signType".to_string(), "MD5".to_string());
    let pay_sign = sign(&p, api_key, SignType::Md5);
    p.insert("paySign".to_string(), pay_sign);
    p
}

/// `abcd1234…` → `****1234`: what is ever answered about the API key.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of WeChat Pay's signature documentation (签名算法): key
    // 192006250b4c09247ec02edce69f6a2d, expected MD5 9A0A8659F005D6984697E2CA0A9CF3B7 and
    // HMAC-SHA256 6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6.
    fn doc_params() -> BTreeMap<String, String> {
        [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn signs_like_the_documentation() {
        let p = doc_params();
        let key = "192006250b4c09247ec02edce69f6a2d";
        assert_eq!(
            string_to_sign(&p, key),
            "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d"
        );
        assert_eq!(
            sign(&p, key, SignType::Md5),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(&p, key, SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn verification_is_exact() {
        let key = "192006250b4c09247ec02edce69f6a2d";
        let mut p = doc_params();
        p.insert("empty".into(), String::new());
        p.insert("sign".into(), "9A0A8659F005D6984697E2CA0A9CF3B7".into());
        assert!(verify(&p, key));
        assert!(!verify(&p, "wrong"));
        p.insert("total_fee".into(), "1".into());
        assert!(!verify(&p, key));
        p.remove("total_fee");
        p.insert("sign_type".into(), "SHA1".into());
        assert!(!verify(&p, key));
    }

    #[test]
    fn parses_flat_xml_with_cdata() {
        let x = "<xml>\n<appid><![CDATA[wx1]]></appid>\n<total_fee>100</total_fee><attach>a &amp; b</attach></xml>";
        let p = parse_xml(x).unwrap();
        assert_eq!(p["appid"], "wx1");
        assert_eq!(p["total_fee"], "100");
        assert_eq!(p["attach"], "a & b");
        assert!(parse_xml("<xml><a><b>1</b></a></xml>").is_err());
        assert!(parse_xml("<xml><a>1</xml>").is_err());
        assert!(parse_xml("<xml><a>1</a><a>2</a></xml>").is_err());
        assert!(parse_xml("{}").is_err());
    }

    #[test]
    fn masks_and_answers() {
        assert_eq!(mask("abcdefgh1234"), "****1234");
        assert!(answer_xml(true, "OK").contains("SUCCESS"));
        let p = jsapi_params("wx1", "wx123", "n", 1, "k");
        assert_eq!(p["package"], "prepay_id=wx123");
        assert_eq!(p["paySign"].len(), 32);
    }
}
