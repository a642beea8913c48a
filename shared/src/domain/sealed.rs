//! Secrets kept at rest in the table, sealed: an API key's signing secret has to be usable
//! (an HMAC needs the secret itself, not a hash of it), so it is stored encrypted with
//! XChaCha20-Poly1305 under a key only the functions and the admin tool have
//! (`POCKETBOOK_SECRETS_KEY`), and bound to the API key's id as associated data: a sealed
//! secret copied onto another key's record does not open.
//!
//! Pure: the caller brings the 24 random bytes of the nonce (the admin tool draws them from
//! the OS), so nothing here touches the outside world. 192-bit random nonces never repeat in
//! practice, which is why this is XChaCha rather than ChaCha's 96-bit nonce.
//!
//! A sealed secret is text, `v1.` then base64url(nonce ‖ ciphertext ‖ tag): it goes into a
//! string attribute and, unopened, into the authorizer's context.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

const VERSION: &str = "v1.";
pub const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// Domain separation for the key derivation and the associated data.
const KEY_CONTEXT: &[u8] = b"pocketbook/sealed-secrets/v1";
const AAD_CONTEXT: &[u8] = b"pocketbook/api-key-signing-secret/v1\0";

/// The key secrets are sealed under: 256 bits derived from the configured text.
#[derive(Clone)]
pub struct SecretsKey([u8; 32]);

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey(<redacted>)")
    }
}

/// A secret as stored: opaque without the [`SecretsKey`].
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(String);

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the secret, but nothing a log needs either.
        f.write_str("SealedSecret(<sealed>)")
    }
}

/// A secret in the clear, briefly: its Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The secret's text, for showing it once or keying an HMAC.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed secret is malformed, altered, bound to another key id, or sealed under another key")]
pub struct CannotOpen;

impl SealedSecret {
    /// A stored value, unchecked until it is opened.
    pub fn from_stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SecretsKey {
    /// The key from the configured text (e.g. `openssl rand -hex 32`): HMAC-SHA-256 under a
    /// fixed context, i.e. HKDF's extract step, so any length of good randomness gives a
    /// uniform 256-bit key.
    pub fn from_passphrase(text: &[u8]) -> Self {
        let mut key = [0u8; 32];
        if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(KEY_CONTEXT) {
            mac.update(text);
            key.copy_from_slice(&mac.finalize().into_bytes());
        }
        Self(key)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.0))
    }

    /// Seals `secret` for the API key `key_id`. `nonce` must be fresh random bytes.
    pub fn seal(&self, key_id: &str, secret: &Secret, nonce: [u8; NONCE_BYTES]) -> SealedSecret {
        let aad = aad(key_id);
        let payload = Payload { msg: secret.expose().as_bytes(), aad: &aad };
        // Encryption fails only for messages beyond 256 GiB; a secret is a few dozen bytes.
        let ciphertext = self.cipher().encrypt(&XNonce::from(nonce), payload).unwrap_or_default();
        let mut bytes = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        SealedSecret(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The secret sealed for `key_id`, if it is intact, this key sealed it, and for that id.
    pub fn open(&self, key_id: &str, sealed: &SealedSecret) -> Result<Secret, CannotOpen> {
        let encoded = sealed.0.strip_prefix(VERSION).ok_or(CannotOpen)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| CannotOpen)?;
        if bytes.len() < NONCE_BYTES + TAG_BYTES {
            return Err(CannotOpen);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CannotOpen)?;
        let aad = aad(key_id);
        let plain = self
            .cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| CannotOpen)?;
        String::from_utf8(plain).map(Secret).map_err(|_| CannotOpen)
    }
}

fn aad(key_id: &str) -> Vec<u8> {
    [AAD_CONTEXT, key_id.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> SecretsKey {
        SecretsKey::from_passphrase(b"a test secrets key of enough length")
    }

    fn secret() -> Secret {
        Secret::new("pbs_the-signing-secret".into())
    }

    #[test]
    fn a_sealed_secret_opens_for_its_key_id_under_its_key_only() {
        let sealed = key().seal("key_1", &secret(), [7; NONCE_BYTES]);
        assert!(sealed.as_str().starts_with("v1."));
        assert!(!sealed.as_str().contains("signing-secret"));
        assert_eq!(key().open("key_1", &sealed), Ok(secret()));
        assert_eq!(key().open("key_2", &sealed), Err(CannotOpen), "bound to the key id");
        assert_eq!(SecretsKey::from_passphrase(b"another key").open("key_1", &sealed), Err(CannotOpen));
        for junk in ["", "v1.", "v2.AAAA", "v1.!!!!", "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            assert_eq!(key().open("key_1", &SealedSecret::from_stored(junk)), Err(CannotOpen), "{junk:?}");
        }
    }

    #[test]
    fn nothing_secret_shows_in_debug() {
        let sealed = key().seal("key_1", &secret(), [1; NONCE_BYTES]);
        let shown = format!("{:?} {:?} {:?}", key(), secret(), sealed);
        assert!(!shown.contains("signing-secret") && !shown.contains(sealed.as_str()), "{shown}");
    }

    #[test]
    fn fresh_nonces_give_different_sealings_of_one_secret() {
        let (a, b) = (key().seal("k", &secret(), [1; NONCE_BYTES]), key().seal("k", &secret(), [2; NONCE_BYTES]));
        assert_ne!(a, b);
        assert_eq!(key().open("k", &a), key().open("k", &b));
    }

    proptest! {
        #[test]
        fn any_secret_round_trips_and_any_flipped_bit_is_refused(
            text in "\\PC{0,64}",
            key_id in "[a-z0-9_]{1,40}",
            nonce in proptest::array::uniform24(any::<u8>()),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let sealed = key().seal(&key_id, &Secret::new(text.clone()), nonce);
            prop_assert_eq!(key().open(&key_id, &sealed).map(|s| s.expose().to_owned()), Ok(text));
            let mut bytes = URL_SAFE_NO_PAD.decode(&sealed.as_str()[VERSION.len()..]).unwrap_or_default();
            let at = flip.index(bytes.len());
            bytes[at] ^= 1 << bit;
            let altered = SealedSecret::from_stored(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(&bytes)));
            prop_assert_eq!(key().open(&key_id, &altered), Err(CannotOpen));
        }
    }
}
