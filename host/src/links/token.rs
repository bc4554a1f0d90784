//! The follower link token: a compact binary payload naming who and what it is for, and an
//! HMAC-SHA256 over it, as unpadded base64url (safe in a query string without escaping).
//!
//! Payload layout (all integers big-endian):
//! `version u8 | key id u32 | expires at (ms) u64 | account | plugin | openid | path`, each string
//! a `u16` byte length followed by UTF-8. The MAC (32 bytes) follows the payload. The payload is
//! readable by whoever holds the link (it names the follower's openid for this account only):
//! the token authenticates, it does not hide.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{PlazaError, Result};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const MAC_LEN: usize = 32;
/// Keys are used for nothing else, but the MAC still names its purpose so that a key reused by a
/// later feature could never make one kind of token pass for another.
const DOMAIN: &[u8] = b"plaza follower link\0";
/// Longest token accepted before decoding: the largest payload the issuer can produce (four
/// bounded strings) with its MAC, in base64, with room to spare.
pub const MAX_TOKEN_CHARS: usize = 4096;

/// What a token asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub key_id: u32,
    pub expires_at_ms: u64,
    pub account: String,
    pub plugin: String,
    pub openid: String,
    /// The decoded path prefix the link was issued for (the path part only, no query).
    pub path: String,
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<()> {
    let len = u16::try_from(s.len())
        .map_err(|_| PlazaError::invalid("a follower link field is longer than 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

impl Claims {
    fn payload(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(
            1 + 4 + 8 + 8 + self.account.len() + self.plugin.len() + self.openid.len(),
        );
        out.push(VERSION);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&self.expires_at_ms.to_be_bytes());
        for s in [&self.account, &self.plugin, &self.openid, &self.path] {
            put_str(&mut out, s)?;
        }
        Ok(out)
    }

    /// The token for these claims, signed with `secret`.
    pub fn sign(&self, secret: &[u8]) -> Result<String> {
        let mut bytes = self.payload()?;
        let tag = mac(secret, &bytes)?.finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }
}

fn mac(secret: &[u8], payload: &[u8]) -> Result<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(secret)
        .map_err(|e| PlazaError::internal(format!("follower link key: {e}")))?;
    m.update(DOMAIN);
    m.update(payload);
    Ok(m)
}

fn malformed() -> PlazaError {
    PlazaError::Unauthorized("the follower link token is malformed".into())
}

/// A token split into its claims (not yet trusted) and what the MAC covers.
pub struct Unverified {
    pub claims: Claims,
    payload: Vec<u8>,
    tag: Vec<u8>,
}

impl Unverified {
    /// Decodes `token` without checking its MAC. Anything that does not decode exactly — wrong
    /// alphabet, padding, version, lengths, trailing bytes, invalid UTF-8 — is `unauthorized`.
    pub fn decode(token: &str) -> Result<Unverified> {
        if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
            return Err(malformed());
        }
        let mut bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| malformed())?;
        if bytes.len() < MAC_LEN + 1 {
            return Err(malformed());
        }
        let tag = bytes.split_off(bytes.len() - MAC_LEN);
        let claims = parse(&bytes).ok_or_else(malformed)?;
        Ok(Unverified {
            claims,
            payload: bytes,
            tag,
        })
    }

    /// Whether the MAC is right under `secret`, compared in constant time.
    pub fn mac_matches(&self, secret: &[u8]) -> Result<bool> {
        Ok(mac(secret, &self.payload)?.verify_slice(&self.tag).is_ok())
    }
}

fn parse(bytes: &[u8]) -> Option<Claims> {
    let mut r = Reader(bytes);
    if r.take(1)?[0] != VERSION {
        return None;
    }
    let key_id = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
    let expires_at_ms = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
    let account = r.string()?;
    let plugin = r.string()?;
    let openid = r.string()?;
    let path = r.string()?;
    if !r.0.is_empty() {
        return None;
    }
    Some(Claims {
        key_id,
        expires_at_ms,
        account,
        plugin,
        openid,
        path,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn string(&mut self) -> Option<String> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            key_id: 7,
            expires_at_ms: 1_700_000_000_000,
            account: "acme".into(),
            plugin: "shop".into(),
            openid: "o-1".into(),
            path: "/member".into(),
        }
    }

    #[test]
    fn a_signed_token_decodes_to_its_claims_and_verifies_under_its_key_only() {
        let token = claims().sign(&[1; 32]).unwrap();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
        let u = Unverified::decode(&token).unwrap();
        assert_eq!(u.claims, claims());
        assert!(u.mac_matches(&[1; 32]).unwrap());
        assert!(!u.mac_matches(&[2; 32]).unwrap());
    }

    #[test]
    fn changing_any_byte_of_a_token_breaks_it() {
        let token = claims().sign(&[1; 32]).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..raw.len() {
            let mut t = raw.clone();
            t[i] ^= 0x01;
            let forged = URL_SAFE_NO_PAD.encode(&t);
            match Unverified::decode(&forged) {
                // A flipped length or version may make it undecodable; otherwise the MAC fails.
                Err(e) => assert_eq!(e.code(), "unauthorized"),
                Ok(u) => assert!(!u.mac_matches(&[1; 32]).unwrap(), "byte {i}"),
            }
        }
    }

    #[test]
    fn malformed_tokens_are_unauthorized() {
        let token = claims().sign(&[1; 32]).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let mut trailing = raw[..raw.len() - MAC_LEN].to_vec();
        trailing.push(0);
        trailing.extend_from_slice(&raw[raw.len() - MAC_LEN..]);
        let cases = [
            String::new(),
            "not base64!".into(),
            format!("{token}="),
            URL_SAFE_NO_PAD.encode(&raw[..20]),
            URL_SAFE_NO_PAD.encode(trailing),
            "A".repeat(MAX_TOKEN_CHARS + 1),
        ];
        for t in cases {
            let e = Unverified::decode(&t).err().expect("refused");
            assert_eq!(e.code(), "unauthorized", "{t:?}");
        }
    }
}
