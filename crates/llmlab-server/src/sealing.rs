//! The server key, and secrets sealed with it at rest (alert channels' URLs,
//! addresses and signing secrets): XChaCha20-Poly1305 with a random nonce,
//! stored as `v1:<key id>:<base64 of nonce and ciphertext>`. The key id (the
//! first 8 hex digits of the key's SHA-256) says which key sealed a value, so
//! a server given a new key and its previous ones opens both and seals again.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// What sealed values are bound to: a value sealed for one use cannot be
/// passed off as another.
const CONTEXT: &[u8] = b"llmlab alert channel v1";
/// The context of provider admin keys (provider connections).
const ADMIN_KEY_CONTEXT: &[u8] = b"llmlab provider admin key v1";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// Why the server key could not be read or a value opened.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("{0} is not a server key: give 32 random bytes in base64, e.g. from `openssl rand -base64 32`")]
    BadKey(String),
    #[error("cannot read or write the server key file {path}: {source}")]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error(
        "this secret was sealed with another server key (key id {0}); give every replica the same LLMLAB_SECRET_KEY, \
         and after changing it put the old one in LLMLAB_SECRET_KEY_PREVIOUS"
    )]
    UnknownKey(String),
    #[error("a sealed secret is damaged or was changed")]
    Damaged,
}

/// One 256-bit key and its id.
#[derive(Clone)]
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn from_bytes(bytes: &[u8]) -> Option<Key> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let id = hex::encode(&Sha256::digest(bytes)[..4]);
        Some(Key { id, cipher: XChaCha20Poly1305::new_from_slice(bytes).ok()? })
    }

    fn from_base64(text: &str, what: &str) -> Result<Key, SealingError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SealingError::BadKey(what.to_owned()))?;
        Key::from_bytes(&bytes).ok_or_else(|| SealingError::BadKey(what.to_owned()))
    }
}

/// The server key, with the previous keys it still opens.
#[derive(Clone)]
pub struct Sealer {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer {{ key id: {}, previous: {} }}", self.current.id, self.previous.len())
    }
}

impl Sealer {
    /// The key given as base64 (`LLMLAB_SECRET_KEY`), with older keys
    /// (`LLMLAB_SECRET_KEY_PREVIOUS`, comma-separated).
    pub fn from_base64(current: &str, previous: &[String]) -> Result<Sealer, SealingError> {
        let current = Key::from_base64(current, "LLMLAB_SECRET_KEY")?;
        let previous = previous
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| Key::from_base64(p, "a key of LLMLAB_SECRET_KEY_PREVIOUS"))
            .collect::<Result<_, _>>()?;
        Ok(Sealer { current, previous })
    }

    /// The key in `path`, generated there (mode 0600) on first use.
    pub fn from_file(path: &Path, previous: &[String]) -> Result<Sealer, SealingError> {
        let io = |source| SealingError::KeyFile { path: path.to_owned(), source };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; KEY_LEN];
                OsRng.try_fill_bytes(&mut bytes).expect("the operating system's random source works");
                let text = STANDARD.encode(bytes);
                match write_private(path, &text) {
                    Ok(()) => {
                        tracing::info!(path = %path.display(), "generated the server key that seals alert channels");
                        text
                    }
                    // Another server on this machine generated it first: use theirs.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read_to_string(path).map_err(io)?
                    }
                    Err(error) => return Err(io(error)),
                }
            }
            Err(error) => return Err(io(error)),
        };
        let mut sealer = Sealer::from_base64(&text, previous)?;
        if sealer.current.id.is_empty() {
            return Err(SealingError::BadKey(path.display().to_string()));
        }
        sealer.previous.retain(|k| k.id != sealer.current.id);
        Ok(sealer)
    }

    /// A key for tests and benchmarks.
    #[must_use]
    pub fn ephemeral() -> Sealer {
        let mut bytes = [0u8; KEY_LEN];
        OsRng.try_fill_bytes(&mut bytes).expect("the operating system's random source works");
        Sealer { current: Key::from_bytes(&bytes).expect("32 bytes"), previous: Vec::new() }
    }

    /// The current key's id.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plain` with the current key.
    #[must_use]
    pub fn seal(&self, plain: &str) -> String {
        self.seal_in(plain, CONTEXT)
    }

    /// Opens a value sealed with the current key or a previous one.
    pub fn open(&self, sealed: &str) -> Result<String, SealingError> {
        self.open_in(sealed, CONTEXT)
    }

    /// Seals a provider's admin key: bound to that use, so it never opens as an alert channel's secret.
    #[must_use]
    pub fn seal_admin_key(&self, plain: &str) -> String {
        self.seal_in(plain, ADMIN_KEY_CONTEXT)
    }

    /// Opens an admin key sealed by [`Sealer::seal_admin_key`].
    pub fn open_admin_key(&self, sealed: &str) -> Result<String, SealingError> {
        self.open_in(sealed, ADMIN_KEY_CONTEXT)
    }

    fn seal_in(&self, plain: &str, context: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.try_fill_bytes(&mut nonce).expect("the operating system's random source works");
        let sealed = self
            .current
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: context })
            .expect("XChaCha20-Poly1305 seals any length this server stores");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("v1:{}:{}", self.current.id, URL_SAFE_NO_PAD.encode(bytes))
    }

    fn open_in(&self, sealed: &str, context: &[u8]) -> Result<String, SealingError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealingError::Damaged);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| SealingError::UnknownKey(id.to_owned()))?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealingError::Damaged)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealingError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context })
            .map_err(|_| SealingError::Damaged)?;
        String::from_utf8(plain).map_err(|_| SealingError::Damaged)
    }

    /// Whether `sealed` was sealed with an older key (and should be sealed again).
    #[must_use]
    pub fn is_stale(&self, sealed: &str) -> bool {
        sealed.split(':').nth(1).is_some_and(|id| id != self.current.id)
    }
}

/// Where the server key comes from.
#[derive(Clone, Debug)]
pub enum ServerKey {
    /// Given (`LLMLAB_SECRET_KEY`).
    Given(Sealer),
    /// Kept in a file, generated there on first start, with the previous keys (base64).
    File { path: PathBuf, previous: Vec<String> },
}

impl ServerKey {
    /// The key; a key file on PostgreSQL is worth a warning: replicas need the same key.
    pub fn load(self, backend: llmlab_store::Backend) -> Result<Sealer, SealingError> {
        match self {
            ServerKey::Given(sealer) => Ok(sealer),
            ServerKey::File { path, previous } => {
                if backend == llmlab_store::Backend::Postgres {
                    tracing::warn!(
                        path = %path.display(),
                        "the server key is read from a file on this machine: every replica needs the same key \
                         (see docs/alerts.md, \"The server key\")"
                    );
                }
                Sealer::from_file(&path, &previous)
            }
        }
    }
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_and_is_not_the_plain_text() {
        let sealer = Sealer::ephemeral();
        let sealed = sealer.seal("https://hooks.slack.com/services/T0/B0/secret");
        assert!(!sealed.contains("secret"), "{sealed}");
        assert!(sealed.starts_with(&format!("v1:{}:", sealer.key_id())));
        assert_eq!(sealer.open(&sealed).unwrap(), "https://hooks.slack.com/services/T0/B0/secret");
        // A fresh nonce each time.
        assert_ne!(sealer.seal("x"), sealer.seal("x"));
    }

    #[test]
    fn an_admin_key_opens_only_as_an_admin_key() {
        let sealer = Sealer::ephemeral();
        let sealed = sealer.seal_admin_key("sk-admin-abc");
        assert_eq!(sealer.open_admin_key(&sealed).unwrap(), "sk-admin-abc");
        assert!(matches!(sealer.open(&sealed), Err(SealingError::Damaged)));
        assert!(matches!(sealer.open_admin_key(&sealer.seal("https://x")), Err(SealingError::Damaged)));
    }

    #[test]
    fn a_changed_value_or_another_key_does_not_open() {
        let sealer = Sealer::ephemeral();
        let sealed = sealer.seal("secret");
        // Flip one character of the ciphertext (past the prefix and nonce).
        let at = sealed.len() - 5;
        let flipped = if &sealed[at..=at] == "A" { "B" } else { "A" };
        let sealed = format!("{}{flipped}{}", &sealed[..at], &sealed[at + 1..]);
        assert!(matches!(sealer.open(&sealed), Err(SealingError::Damaged)));
        let other = Sealer::ephemeral();
        assert!(matches!(other.open(&sealer.seal("secret")), Err(SealingError::UnknownKey(_))));
    }

    #[test]
    fn a_rotated_key_opens_the_old_values_and_marks_them_stale() {
        let old_key = STANDARD.encode([7u8; 32]);
        let new_key = STANDARD.encode([9u8; 32]);
        let old = Sealer::from_base64(&old_key, &[]).unwrap();
        let sealed = old.seal("secret");
        let rotated = Sealer::from_base64(&new_key, std::slice::from_ref(&old_key)).unwrap();
        assert!(rotated.is_stale(&sealed));
        assert_eq!(rotated.open(&sealed).unwrap(), "secret");
        assert!(!rotated.is_stale(&rotated.seal("secret")));
    }

    #[test]
    fn a_key_file_is_generated_once_and_private() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("secret.key");
        let first = Sealer::from_file(&path, &[]).unwrap();
        let second = Sealer::from_file(&path, &[]).unwrap();
        assert_eq!(first.key_id(), second.key_id());
        assert_eq!(second.open(&first.seal("x")).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_bad_key_is_refused_with_how_to_make_one() {
        let error = Sealer::from_base64("too-short", &[]).unwrap_err().to_string();
        assert!(error.contains("openssl rand -base64 32"), "{error}");
    }
}
