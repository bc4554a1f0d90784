//! Secure mode (安全模式 / 兼容模式): AES-256-CBC with the key from the EncodingAESKey, the IV
//! its first 16 bytes, over `random(16) ‖ be_u32(len) ‖ xml ‖ appid`, padded PKCS#7-style to a
//! multiple of **32** bytes (pad values 1–32).
//!
//! Why not the crate's PKCS#7 padding: it works on the cipher's 16-byte blocks and refuses pad
//! values 17–32, which are half of all real messages. So the cipher runs without padding and
//! the 32-byte padding is added and checked here (RustCrypto `aes` + `cbc` do the cryptography).

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

/// WeChat pads to this block size (not AES's 16).
const PAD_BLOCK: usize = 32;
/// Length of an EncodingAESKey.
pub const ENCODING_AES_KEY_LEN: usize = 43;
/// Largest message accepted inside a ciphertext.
pub const MAX_PLAINTEXT: usize = 1 << 20;

/// Why a ciphertext or key was refused. Each is a different mistake (or attack) on the peer's
/// side, so each says what it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the EncodingAESKey must be exactly 43 letters and digits")]
    BadKey,
    #[error("the encrypted text is not valid base64")]
    BadBase64,
    #[error("the encrypted text is not a whole number of AES blocks")]
    BadLength,
    #[error("the decrypted text has invalid padding (wrong key?)")]
    BadPadding,
    #[error("the decrypted text is not laid out as random ‖ length ‖ message ‖ appid")]
    BadLayout,
    #[error("the decrypted message is for appid {0:?}, not this account's")]
    WrongAppId(String),
}

/// EncodingAESKeys end in a base64 digit whose low bits may be anything: WeChat generates them
/// without caring, so a strict decoder would refuse real keys.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An account's secure-mode key and the appid its messages carry.
#[derive(Clone)]
pub struct SecureKey {
    key: [u8; 32],
    appid: String,
}

impl std::fmt::Debug for SecureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureKey")
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

/// Checks the shape of an EncodingAESKey (43 characters of `[A-Za-z0-9]`).
pub fn validate_encoding_aes_key(encoding_aes_key: &str) -> Result<(), CryptoError> {
    if encoding_aes_key.len() != ENCODING_AES_KEY_LEN
        || !encoding_aes_key.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(CryptoError::BadKey);
    }
    Ok(())
}

impl SecureKey {
    pub fn new(encoding_aes_key: &str, appid: &str) -> Result<Self, CryptoError> {
        validate_encoding_aes_key(encoding_aes_key)?;
        let bytes = LENIENT
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(SecureKey {
            key,
            appid: appid.to_string(),
        })
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// Encrypts `message` with a fresh random prefix; returns the base64 text for `<Encrypt>`.
    pub fn encrypt(&self, message: &[u8]) -> String {
        let mut random = [0u8; 16];
        if getrandom::fill(&mut random).is_err() {
            // The prefix only has to differ between messages; the clock is enough for that.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            random = nanos.to_le_bytes();
        }
        self.encrypt_with_prefix(message, &random)
    }

    /// Encrypts with the given 16-byte prefix (fixed in tests to reproduce known vectors).
    pub fn encrypt_with_prefix(&self, message: &[u8], random: &[u8; 16]) -> String {
        let mut buf = Vec::with_capacity(message.len() + self.appid.len() + 20 + PAD_BLOCK);
        buf.extend_from_slice(random);
        buf.extend_from_slice(&(message.len() as u32).to_be_bytes());
        buf.extend_from_slice(message);
        buf.extend_from_slice(self.appid.as_bytes());
        let pad = PAD_BLOCK - buf.len() % PAD_BLOCK;
        buf.resize(buf.len() + pad, pad as u8);
        let len = buf.len();
        let encrypted = Encryptor::new(&self.key.into(), &self.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        STANDARD.encode(encrypted)
    }

    /// Decrypts the base64 text of `<Encrypt>`, checks padding, layout and appid, and returns
    /// the message.
    pub fn decrypt(&self, encrypted: &str) -> Result<Vec<u8>, CryptoError> {
        let mut buf = LENIENT
            .decode(encrypted.trim())
            .map_err(|_| CryptoError::BadBase64)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError::BadLength);
        }
        let plain = Decryptor::new(&self.key.into(), &self.iv().into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::BadLength)?;
        let pad = *plain.last().ok_or(CryptoError::BadPadding)? as usize;
        if !(1..=PAD_BLOCK).contains(&pad)
            || pad > plain.len()
            || plain[plain.len() - pad..]
                .iter()
                .any(|b| *b as usize != pad)
        {
            return Err(CryptoError::BadPadding);
        }
        let content = &plain[..plain.len() - pad];
        if content.len() < 20 {
            return Err(CryptoError::BadLayout);
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&content[16..20]);
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_PLAINTEXT || 20 + len > content.len() {
            return Err(CryptoError::BadLayout);
        }
        let message = &content[20..20 + len];
        let appid = &content[20 + len..];
        if appid != self.appid.as_bytes() {
            return Err(CryptoError::WrongAppId(
                String::from_utf8_lossy(appid).chars().take(64).collect(),
            ));
        }
        Ok(message.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APPID: &str = "wx1234567890abcdef";
    const PLAIN: &str = "<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[oUSER_OPENID_000000000000000]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>1234567890123456</MsgId></xml>";
    const ENCRYPTED: &str = "QCTqNwyPmqRu4xuyqVsjaxyqmPHuoV9ZnZj0YNXxx54mBjFosaLTokY3fCm6/Md90XlJ/pkI1agILRGnKKqVDqq/ML1Q8NgvJFY5bdfIarmfnIn+BW+kqtOZVwBbRatLO/1Mw1bY8w+3I3m/jhlSizFM/f5+B8Pi0ZZXu6ZF+oDELm2G6vo97wD7OPHMB6LdF4YxKFpIkV0WhjWTRQ6PF3hKIIxEXpKqT8Vm9SemTHhUYbXhWMdNukEZksgLpXril0AV+KByBOZPicb5xdyV/ggI38BYebrPvYX7qPmQFdlMcpfOymf6QP7//jzS/wwOb2+zcaYDGwsuhNDCn5hOG/qh+JJytQ7CnBxB5shFuOhRkgp/WTxutHYQTVUM/qhzgtlWA6X+JKMm3HePHv15+aUtz4Hm22Vgf2rwqE8qSFc=";

    fn key() -> SecureKey {
        SecureKey::new(KEY, APPID).unwrap()
    }

    #[test]
    fn the_documented_vector_encrypts_and_decrypts() {
        // wechat-protocol.md §1.8, built with wechatpy 1.8.18 and the prefix fixed.
        assert_eq!(
            key().encrypt_with_prefix(PLAIN.as_bytes(), b"1234567890123456"),
            ENCRYPTED
        );
        assert_eq!(key().decrypt(ENCRYPTED).unwrap(), PLAIN.as_bytes());
    }

    #[test]
    fn wechatpys_own_vector_decrypts() {
        // wechatpy tests/test_crypto.py (WeCom flavour, same algorithm).
        let k = SecureKey::new(
            "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
            "wx49f0ab532d5d035a",
        )
        .unwrap();
        let enc = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";
        let plain = String::from_utf8(k.decrypt(enc).unwrap()).unwrap();
        assert!(
            plain.contains("<FromUserName><![CDATA[messense]]></FromUserName>"),
            "{plain}"
        );
        assert!(
            plain.contains("<MsgId>4363689963896700987</MsgId>"),
            "{plain}"
        );
    }

    #[test]
    fn every_pad_length_from_1_to_32_round_trips() {
        let k = key();
        let mut seen = std::collections::BTreeSet::new();
        // 16 + 4 + n + 18 bytes: n from 0 to 31 gives every pad value.
        for n in 0..PAD_BLOCK {
            let msg = "x".repeat(n);
            let enc = k.encrypt(msg.as_bytes());
            let raw = STANDARD.decode(&enc).unwrap();
            assert_eq!(raw.len() % PAD_BLOCK, 0, "padded to 32");
            let pad = PAD_BLOCK - (16 + 4 + n + APPID.len()) % PAD_BLOCK;
            seen.insert(pad);
            assert_eq!(k.decrypt(&enc).unwrap(), msg.as_bytes(), "pad {pad}");
        }
        assert_eq!(seen, (1..=32).collect());
    }

    #[test]
    fn malformed_ciphertexts_are_refused_for_what_they_are() {
        let k = key();
        assert_eq!(
            k.decrypt("not base64!!").unwrap_err(),
            CryptoError::BadBase64
        );
        assert_eq!(k.decrypt("").unwrap_err(), CryptoError::BadLength);
        assert_eq!(
            k.decrypt(&STANDARD.encode([0u8; 17])).unwrap_err(),
            CryptoError::BadLength
        );
        // Truncated by one block.
        let raw = STANDARD.decode(ENCRYPTED).unwrap();
        let cut = STANDARD.encode(&raw[..raw.len() - 16]);
        assert!(matches!(
            k.decrypt(&cut).unwrap_err(),
            CryptoError::BadPadding | CryptoError::BadLayout
        ));
        // Another key: garbage padding.
        let other = SecureKey::new("0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", APPID).unwrap();
        assert!(matches!(
            other.decrypt(ENCRYPTED).unwrap_err(),
            CryptoError::BadPadding | CryptoError::BadLayout | CryptoError::WrongAppId(_)
        ));
        // The right key, a message for another account.
        let foreign = SecureKey::new(KEY, "wx0000000000000000").unwrap();
        assert_eq!(
            foreign.decrypt(ENCRYPTED).unwrap_err(),
            CryptoError::WrongAppId(APPID.into())
        );
        // A length field pointing past the end.
        let mut forged = Vec::new();
        forged.extend_from_slice(b"1234567890123456");
        forged.extend_from_slice(&u32::MAX.to_be_bytes());
        forged.extend_from_slice(APPID.as_bytes());
        let pad = PAD_BLOCK - forged.len() % PAD_BLOCK;
        forged.resize(forged.len() + pad, pad as u8);
        let len = forged.len();
        let enc = Encryptor::new(&k.key.into(), &k.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut forged, len)
            .unwrap()
            .to_vec();
        assert_eq!(
            k.decrypt(&STANDARD.encode(enc)).unwrap_err(),
            CryptoError::BadLayout
        );
    }

    #[test]
    fn keys_must_be_43_letters_and_digits() {
        assert!(SecureKey::new(KEY, APPID).is_ok());
        for bad in [
            "",
            &KEY[..42],
            &format!("{KEY}A"),
            &format!("{}+", &KEY[..42]),
        ] {
            assert_eq!(
                SecureKey::new(bad, APPID).unwrap_err(),
                CryptoError::BadKey,
                "{bad}"
            );
        }
    }
}
