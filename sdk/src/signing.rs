//! HMAC-SHA256 signatures for what a plugin hands out and later takes back: preview links,
//! tracking tokens, webhook bodies signed by a partner.
//!
//! Why in the SDK: every plugin that signs needs the same three pieces — a secret key of its own
//! installation that nobody is ever shown, a MAC, and a comparison that does not leak through its
//! timing — and copies of them drift (one compares with `==`, another forgets that two first
//! calls race to create the key). [`Key::installation`] keeps the key in the plugin's storage
//! (`storage` capability), created on first use; [`Key::new`] wraps a secret the plugin was given,
//! e.g. a partner's webhook secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{Error, storage};

/// A secret HMAC-SHA256 key, ready to sign.
#[derive(Clone)]
pub struct Key(Hmac<Sha256>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// A key of the given bytes (a secret the operator or a partner set).
    pub fn new(secret: &[u8]) -> Result<Key, Error> {
        // HMAC takes keys of every length; the error exists for fixed-size MACs only.
        Hmac::<Sha256>::new_from_slice(secret)
            .map(Key)
            .map_err(|_| Error::internal("HMAC-SHA256 refused a key"))
    }

    /// This installation's key stored under `storage_key`: 32 random bytes created on first use.
    /// Two first calls at once agree on one key (the first stored wins), so nothing signed with
    /// the loser's key is ever handed out.
    pub fn installation(storage_key: &str) -> Result<Key, Error> {
        if let Some(key) = storage::get(storage_key)? {
            return Key::new(&key);
        }
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|e| Error::unavailable(format!("no randomness for a signing key: {e}")))?;
        storage::compare_and_swap(storage_key, None, Some(&fresh))?;
        let stored = storage::get(storage_key)?
            .ok_or_else(|| Error::internal(format!("the signing key {storage_key:?} vanished")))?;
        Key::new(&stored)
    }

    /// The 32-byte HMAC-SHA256 tag of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// [`Key::sign`] as lowercase hex (64 characters).
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.sign(message))
    }

    /// Whether `tag` is the tag of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        bool::from(self.sign(message).as_slice().ct_eq(tag))
    }

    /// Whether `tag_hex` (either case) is the hex tag of `message`, compared in constant time.
    pub fn verify_hex(&self, message: &[u8], tag_hex: &str) -> bool {
        hex::decode(tag_hex).is_ok_and(|tag| self.verify(message, &tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_the_rfc_4231_vector_and_verify_only_themselves() {
        // RFC 4231, test case 2.
        let key = Key::new(b"Jefe").expect("key");
        let message = b"what do ya want for nothing?";
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(key.sign_hex(message), expected);
        assert!(key.verify_hex(message, expected));
        assert!(key.verify_hex(message, &expected.to_uppercase()));
        assert!(!key.verify_hex(b"what do ya want for something?", expected));
        assert!(!key.verify_hex(message, &expected[..62]));
        assert!(!key.verify_hex(message, "not hex"));
        assert!(
            !Key::new(b"jefe")
                .expect("key")
                .verify_hex(message, expected)
        );
        assert_eq!(format!("{key:?}"), "Key(…)");
    }
}
