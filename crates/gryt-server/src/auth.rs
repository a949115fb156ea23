//! Authentication: HTTP Basic against Argon2id hashes, and HMAC-SHA256 request signatures
//! exactly as the reference client makes them, with API keys whose secrets are kept
//! encrypted under the server key (XChaCha20-Poly1305).

use crate::db::{Conn, Val};
use crate::error::ApiError;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use gryt_core::api::ErrorCode;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    /// The API key that signed the request; None for a password login. Some actions need
    /// the password (see `crate::accounts::needs_password`).
    pub api_key: Option<String>,
}

/// Signatures are accepted this far from the server clock, either way.
pub const MAX_SKEW_SECS: i64 = 300;

/// The 32-byte key that encrypts API key secrets at rest.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

impl ServerKey {
    pub fn from_bytes(b: [u8; 32]) -> ServerKey {
        ServerKey(b)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> anyhow::Result<ServerKey> {
        let bytes = hex::decode(s.trim())
            .map_err(|_| anyhow::anyhow!("the server key must be 64 hexadecimal characters"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the server key must be 32 bytes (64 hex characters)"))?;
        Ok(ServerKey(arr))
    }

    pub fn generate() -> anyhow::Result<ServerKey> {
        Ok(ServerKey(crate::util::random_bytes::<32>().map_err(
            |e| anyhow::anyhow!("no randomness for the server key: {e}"),
        )?))
    }

    /// Loads the key file, or creates it with mode 0600 when it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<ServerKey> {
        match std::fs::read_to_string(path) {
            Ok(s) => ServerKey::from_hex(&s)
                .map_err(|e| anyhow::anyhow!("bad server key file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent)?;
                    }
                }
                let key = ServerKey::generate()?;
                write_private(path, &hex::encode(key.0))?;
                // Another process may have won the race to create it: read what is there.
                let s = std::fs::read_to_string(path)?;
                ServerKey::from_hex(&s)
            }
            Err(e) => Err(anyhow::anyhow!(
                "cannot read the server key file {}: {e}",
                path.display()
            )),
        }
    }

    pub fn encrypt(&self, plain: &str, aad: &str) -> Result<String, ApiError> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce = crate::util::random_bytes::<24>()
            .map_err(|_| ApiError::internal("no randomness available"))?;
        let ct = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| ApiError::internal("cannot encrypt"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(hex::encode(out))
    }

    pub fn decrypt(&self, stored: &str, aad: &str) -> Option<String> {
        let raw = hex::decode(stored).ok()?;
        if raw.len() < 24 {
            return None;
        }
        let (nonce, ct) = raw.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let plain = cipher
            .decrypt(
                &XNonce::try_from(nonce).ok()?,
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            f.write_all(content.as_bytes())?;
            f.sync_all()?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "cannot create the server key file {}: {e}",
            path.display()
        )),
    }
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    std::fs::write(path, content)?;
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // OWASP minimum for Argon2id: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with Argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt_bytes =
        crate::util::random_bytes::<16>().map_err(|_| ApiError::internal("no randomness"))?;
    argon2()
        .hash_password_with_salt(password.as_bytes(), &salt_bytes)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal("cannot hash the password"))
}

/// Verifies a password against a stored hash (the comparison is constant-time).
pub fn verify_password(stored: &str, password: &str) -> bool {
    // A stored string that is not a PHC hash is refused like a wrong password.
    argon2()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// A hash to verify against when the user does not exist, so the answer takes as long.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("gryt-dummy-password").unwrap_or_default())
}

pub fn validate_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < 8 {
        return Err(ApiError::invalid("A password needs at least 8 characters"));
    }
    if n > 1024 {
        return Err(ApiError::invalid(
            "A password may be at most 1024 characters",
        ));
    }
    Ok(())
}

pub fn validate_username(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "A username is 1 to 64 characters: letters, digits, '.', '_' and '-'",
        ))
    }
}

/// The user's id and password hash, if the user exists and may log in (a quick read). A
/// disabled or removed user is not found: their login costs the same hash as an unknown
/// user's and is refused in the same words as a wrong password.
pub fn lookup_user(c: &mut dyn Conn, username: &str) -> Result<Option<(i64, String)>, ApiError> {
    let row = c.query_opt(
        "SELECT id, password_hash FROM users \
         WHERE username = ?1 AND disabled_at IS NULL AND removed_at IS NULL",
        &[Val::from(username)],
    )?;
    match row {
        Some(r) => Ok(Some((r.int(0)?, r.text(1)?))),
        None => Ok(None),
    }
}

/// Verifies a password for a looked-up user (blocking: Argon2 is slow on purpose). An
/// unknown user costs the same hash, so timing does not tell which users exist.
pub fn check_basic(
    user: Option<(i64, String)>,
    username: &str,
    password: &str,
) -> Result<Principal, ApiError> {
    let refused = || ApiError::unauthorized("Invalid username or password");
    match user {
        Some((id, hash)) => {
            if verify_password(&hash, password) {
                Ok(Principal {
                    user_id: id,
                    username: username.to_string(),
                    api_key: None,
                })
            } else {
                Err(refused())
            }
        }
        None => {
            let _ = verify_password(dummy_hash(), password);
            Err(refused())
        }
    }
}

/// The parts of `Authorization: HMAC <key_id>:<timestamp>:<signature>`.
pub struct HmacHeader<'a> {
    pub key_id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

/// The key id ends at the first ':', the signature starts after the last ':'.
pub fn parse_hmac(value: &str) -> Option<HmacHeader<'_>> {
    let (key_id, rest) = value.split_once(':')?;
    let (timestamp, signature) = rest.rsplit_once(':')?;
    if key_id.is_empty() || timestamp.is_empty() || signature.is_empty() {
        return None;
    }
    Some(HmacHeader {
        key_id,
        timestamp,
        signature,
    })
}

/// The message the reference client signs (written once, in `gryt_core`).
pub use gryt_core::api::signing::signing_message;

/// Lowercase hex HMAC-SHA256 (what a client sends; used by tests and tools).
pub fn sign(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    body: &[u8],
) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(&signing_message(method, path_and_query, timestamp, body));
    hex::encode(mac.finalize().into_bytes())
}

/// Parses the ISO-8601 timestamp (with offset; a naive one is taken as UTC).
fn parse_timestamp(ts: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) {
        return Some(t.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// A verified signature that still has to be recorded as seen (see [`ReplayLog`]).
pub struct Verified {
    pub principal: Principal,
    pub signature_id: String,
    pub expires_at: i64,
}

/// What a request needs of an API key to check its signature. [`ReplayLog::record`] reads
/// the key's revocation and expiry again in the transaction that records the signature, so
/// this can be kept in memory ([`KeyCache`]).
#[derive(Clone)]
pub struct KeyMaterial {
    pub principal: Principal,
    secret: String,
    /// Unix seconds; None for a key that never expires.
    expires_at: Option<i64>,
}

/// The refusal of a request signed by a key of a disabled or removed user: the very answer
/// to a wrong signature, so it tells nothing about the account.
pub fn refused_signature() -> ApiError {
    ApiError::unauthorized("Invalid signature")
}

/// Reads API key `key_id` (unknown and revoked keys refused, and the keys of a disabled or
/// removed user) and decrypts its secret.
pub fn load_key(c: &mut dyn Conn, key: &ServerKey, key_id: &str) -> Result<KeyMaterial, ApiError> {
    let row = c.query_opt(
        "SELECT k.user_id, u.username, k.secret_enc, k.expires_at, k.revoked_at, \
         u.disabled_at, u.removed_at \
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_id = ?1",
        &[Val::from(key_id)],
    )?;
    let Some(row) = row else {
        return Err(ApiError::unauthorized("Unknown API key"));
    };
    if row.opt_text(4)?.is_some() {
        return Err(ApiError::unauthorized("API key revoked"));
    }
    if row.opt_text(5)?.is_some() || row.opt_text(6)?.is_some() {
        return Err(refused_signature());
    }
    // An expiry that does not parse counts as expired.
    let expires_at = row.opt_text(3)?.map(|exp| {
        chrono::DateTime::parse_from_rfc3339(&exp)
            .map(|e| e.timestamp())
            .unwrap_or(i64::MIN)
    });
    let secret = key.decrypt(&row.text(2)?, key_id).ok_or_else(|| {
        ApiError::internal("cannot decrypt the API key secret (wrong server key?)")
    })?;
    Ok(KeyMaterial {
        principal: Principal {
            user_id: row.int(0)?,
            username: row.text(1)?,
            api_key: Some(key_id.to_string()),
        },
        secret,
        expires_at,
    })
}

/// Checks one HMAC-signed request against its key (no I/O): key not expired; timestamp
/// within ±5 minutes; signature right over the raw bytes. The caller then records the
/// signature with [`ReplayLog::record`], which refuses one already seen or a revoked key.
pub fn verify_hmac(
    k: &KeyMaterial,
    h: &HmacHeader<'_>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Result<Verified, ApiError> {
    let bad = || ApiError::unauthorized("Invalid signature");
    let now = check_timestamp(h.timestamp)?;
    let sig = hex::decode(h.signature).map_err(|_| bad())?;
    if k.expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::unauthorized("API key expired"));
    }
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(k.secret.as_bytes()).map_err(|_| bad())?;
    mac.update(&signing_message(method, path_and_query, h.timestamp, body));
    mac.verify_slice(&sig).map_err(|_| bad())?;
    Ok(Verified {
        principal: k.principal.clone(),
        signature_id: format!("{}:{}", h.key_id, h.signature.to_ascii_lowercase()),
        expires_at: now + 2 * MAX_SKEW_SECS + 60,
    })
}

/// Refuses an API key that has expired by `now` (Unix seconds): checked from the headers,
/// before the body is read. Revocation is read when the signature is recorded.
pub fn check_key_live(k: &KeyMaterial, now: i64) -> Result<(), ApiError> {
    if k.expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::unauthorized("API key expired"));
    }
    Ok(())
}

/// Refuses a signature timestamp that does not parse or is more than 5 minutes from the
/// server clock; returns the server clock (Unix seconds).
pub fn check_timestamp(timestamp: &str) -> Result<i64, ApiError> {
    let now = crate::util::now_unix();
    let ts = parse_timestamp(timestamp)
        .ok_or_else(|| ApiError::unauthorized("Invalid signature timestamp"))?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(ApiError::unauthorized(
            "Signature timestamp is more than 5 minutes away from the server clock",
        ));
    }
    Ok(now)
}

/// Verifies one HMAC-signed request, reading its key from the database: [`load_key`] then
/// [`verify_hmac`].
pub fn check_hmac(
    c: &mut dyn Conn,
    key: &ServerKey,
    h: &HmacHeader<'_>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Result<Verified, ApiError> {
    check_timestamp(h.timestamp)?;
    let k = load_key(c, key, h.key_id)?;
    verify_hmac(&k, h, method, path_and_query, body)
}

/// API keys read recently (see [`KeyMaterial`]), so that a signed request does not read and
/// decrypt its key every time. Entries live a minute; revocation is not read from here.
pub struct KeyCache {
    map: Mutex<HashMap<String, (KeyMaterial, Instant)>>,
}

impl KeyCache {
    pub fn new() -> KeyCache {
        KeyCache {
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key_id: &str) -> Option<KeyMaterial> {
        let map = self.map.lock().ok()?;
        map.get(key_id)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(k, _)| k.clone())
    }

    pub fn put(&self, key_id: &str, k: KeyMaterial) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(key_id.to_string(), (k, Instant::now()));
        }
    }

    pub fn forget(&self, key_id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key_id);
        }
    }
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new()
    }
}

/// What recording a signature found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recorded {
    Fresh,
    Replay,
    /// The key was revoked (or is gone) by the time the signature was recorded.
    Revoked,
    /// The key had expired by the time the signature was recorded.
    Expired,
    /// The key's user was disabled or removed by the time the signature was recorded.
    UserRefused,
}

/// Whether an API key expiry (RFC 3339) lies after `now`; one that does not parse has passed.
pub(crate) fn expires_after(exp: &str, now: i64) -> bool {
    chrono::DateTime::parse_from_rfc3339(exp).is_ok_and(|e| e.timestamp() > now)
}

type ReplayItem = (
    String,
    String,
    i64,
    tokio::sync::oneshot::Sender<Result<Recorded, ApiError>>,
);

/// Records seen signatures in the database, so every process sharing it refuses a replay,
/// and in the same transaction reads whether the key is still live (not revoked, not
/// expired), so a revocation made by any process counts from its commit. Concurrent requests are recorded together in one
/// transaction (group commit): one write per batch instead of one per request.
#[derive(Clone)]
pub struct ReplayLog {
    tx: tokio::sync::mpsc::Sender<ReplayItem>,
}

impl ReplayLog {
    /// Starts the recorder task on the current runtime.
    pub fn start(db: crate::db::Db) -> ReplayLog {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ReplayItem>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < 512 {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
                let items: Vec<(String, String, i64)> = batch
                    .iter()
                    .map(|(k, s, e, _)| (k.clone(), s.clone(), *e))
                    .collect();
                let result = db
                    .run_write(move |c| {
                        let now = crate::util::now_unix();
                        crate::db::transaction(c, crate::db::TxMode::Write, |c| {
                            let mut out = Vec::with_capacity(items.len());
                            // Each key's state is read once per batch (one key signs most).
                            let mut states: HashMap<&str, Option<Recorded>> = HashMap::new();
                            let mut used: std::collections::BTreeSet<&str> =
                                std::collections::BTreeSet::new();
                            for (key_id, sig, exp) in &items {
                                let state = match states.get(key_id.as_str()) {
                                    Some(s) => *s,
                                    None => {
                                        let row = c.query_opt(
                                            "SELECT k.revoked_at, k.expires_at, u.disabled_at, u.removed_at \
                                             FROM api_keys k JOIN users u ON u.id = k.user_id \
                                             WHERE k.key_id = ?1",
                                            &[Val::from(key_id)],
                                        )?;
                                        let s = match row {
                                            None => Some(Recorded::Revoked),
                                            Some(r) if r.opt_text(0)?.is_some() => {
                                                Some(Recorded::Revoked)
                                            }
                                            Some(r)
                                                if r.opt_text(2)?.is_some()
                                                    || r.opt_text(3)?.is_some() =>
                                            {
                                                Some(Recorded::UserRefused)
                                            }
                                            Some(r) => match r.opt_text(1)? {
                                                Some(exp) if !expires_after(&exp, now) => {
                                                    Some(Recorded::Expired)
                                                }
                                                _ => None,
                                            },
                                        };
                                        states.insert(key_id.as_str(), s);
                                        s
                                    }
                                };
                                if let Some(state) = state {
                                    out.push(state);
                                    continue;
                                }
                                let n = c.exec(
                                    "INSERT INTO seen_signatures (signature, expires_at) \
                                     VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                                    &[Val::from(sig), Val::Int(*exp)],
                                )?;
                                out.push(if n == 1 {
                                    used.insert(key_id.as_str());
                                    Recorded::Fresh
                                } else {
                                    Recorded::Replay
                                });
                            }
                            // When each key last signed an accepted request (for
                            // `gryt server api-key list`): one write per key and batch.
                            let at = crate::util::now_rfc3339();
                            for key_id in used {
                                c.exec(
                                    "UPDATE api_keys SET last_used_at = ?1 WHERE key_id = ?2",
                                    &[Val::from(&at), Val::from(key_id)],
                                )?;
                            }
                            Ok::<_, ApiError>(out)
                        })
                    })
                    .await;
                match result {
                    Ok(out) => {
                        for ((_, _, _, reply), r) in batch.into_iter().zip(out) {
                            let _ = reply.send(Ok(r));
                        }
                    }
                    Err(e) => {
                        for (_, _, _, reply) in batch {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        ReplayLog { tx }
    }

    /// Records a signature of key `key_id`; `Err` 401 when it was already seen or the key has
    /// been revoked.
    pub async fn record(&self, key_id: &str, v: &Verified) -> Result<(), ApiError> {
        let (reply, wait) = tokio::sync::oneshot::channel();
        self.tx
            .send((
                key_id.to_string(),
                v.signature_id.clone(),
                v.expires_at,
                reply,
            ))
            .await
            .map_err(|_| ApiError::internal("the replay log has stopped"))?;
        match wait.await {
            Ok(Ok(Recorded::Fresh)) => Ok(()),
            Ok(Ok(Recorded::Replay)) => Err(ApiError::unauthorized(
                "Signature already used (replay refused)",
            )),
            Ok(Ok(Recorded::Revoked)) => Err(ApiError::unauthorized("API key revoked")),
            Ok(Ok(Recorded::Expired)) => Err(ApiError::unauthorized("API key expired")),
            Ok(Ok(Recorded::UserRefused)) => Err(refused_signature()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ApiError::internal("the replay log has stopped")),
        }
    }
}

/// Successful Basic logins, remembered briefly under a keyed hash so that each request does
/// not pay for Argon2 again. Cleared when any password changes through the API. Each entry
/// keeps the password hash it was checked against: a hit is honoured only while the user's
/// row still holds that hash and the user may log in (see [`still_allowed`]), so a password
/// changed, or a user disabled or removed, by `gryt server user ...` (another process)
/// counts from the next request.
pub struct CredentialCache {
    salt: [u8; 32],
    map: Mutex<HashMap<String, (Principal, String, Instant)>>,
}

/// Whether a remembered login still stands: the user may log in (not disabled, not
/// removed) and still has the password hash the login was checked against.
pub fn still_allowed(c: &mut dyn Conn, p: &Principal, hash: &str) -> Result<bool, ApiError> {
    Ok(lookup_user(c, &p.username)?.is_some_and(|(id, h)| id == p.user_id && h == hash))
}

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 10_000;

impl CredentialCache {
    pub fn new() -> anyhow::Result<CredentialCache> {
        Ok(CredentialCache {
            salt: crate::util::random_bytes::<32>()
                .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?,
            map: Mutex::new(HashMap::new()),
        })
    }

    fn key(&self, user: &str, password: &str) -> String {
        crate::util::sha256_hex(&[&self.salt, user.as_bytes(), password.as_bytes()])
    }

    /// The principal and the password hash of a recent login with these credentials.
    pub fn get(&self, user: &str, password: &str) -> Option<(Principal, String)> {
        let k = self.key(user, password);
        let map = self.map.lock().ok()?;
        map.get(&k)
            .filter(|(_, _, at)| at.elapsed() < CACHE_TTL)
            .map(|(p, h, _)| (p.clone(), h.clone()))
    }

    /// Remembers a login checked against `hash`.
    pub fn put(&self, user: &str, password: &str, p: Principal, hash: String) {
        let k = self.key(user, password);
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(k, (p, hash, Instant::now()));
        }
    }

    pub fn forget(&self, user: &str, password: &str) {
        let k = self.key(user, password);
        if let Ok(mut map) = self.map.lock() {
            map.remove(&k);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
    }
}

/// Failed password logins are counted over this window (see [`AuthLimiter`]).
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// How long an address where an account logged in stays trusted for that account.
const REMEMBER_GOOD: Duration = Duration::from_secs(24 * 3600);
/// Entries each table of the limiter holds before idle ones are pruned.
const LIMITER_MAX: usize = 100_000;

/// A refused authentication: the error and, for 429, how many seconds until it lifts.
#[derive(Debug, Clone)]
pub struct Refused {
    pub error: ApiError,
    pub retry_after: Option<u64>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused {
            error,
            retry_after: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    count: u32,
    start: Instant,
}

impl Window {
    fn live(&self) -> bool {
        self.start.elapsed() < FAILURE_WINDOW
    }
    fn remaining_secs(&self) -> u64 {
        FAILURE_WINDOW
            .saturating_sub(self.start.elapsed())
            .as_secs()
            .max(1)
    }
}

/// One address's or one account's standing: its completed failures in the current window,
/// its password checks under way, and what the logins waiting for one of those checks to
/// finish wait on.
struct Tally {
    failures: Option<Window>,
    in_flight: u32,
    finished: std::sync::Arc<tokio::sync::Notify>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            failures: None,
            in_flight: 0,
            finished: std::sync::Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// The failure window while it lasts.
    fn window(&self) -> Option<&Window> {
        self.failures.as_ref().filter(|w| w.live())
    }

    fn failures(&self) -> u32 {
        self.window().map_or(0, |w| w.count)
    }

    /// Nothing to remember: no live failures, no check under way, nobody waiting.
    fn idle(&self) -> bool {
        self.in_flight == 0
            && self.window().is_none()
            && std::sync::Arc::strong_count(&self.finished) == 1
    }

    /// A check ended: one fewer under way, a failure counted when it failed, and the
    /// logins waiting on this address or account look again.
    fn finish(&mut self, failed: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if failed {
            match self.failures.as_mut() {
                Some(w) if w.live() => w.count = w.count.saturating_add(1),
                _ => {
                    self.failures = Some(Window {
                        count: 1,
                        start: Instant::now(),
                    })
                }
            }
        }
        self.finished.notify_waiters();
    }
}

#[derive(Default)]
struct LimitState {
    peers: HashMap<std::net::IpAddr, Tally>,
    accounts: HashMap<String, Tally>,
    good: HashMap<(String, std::net::IpAddr), Instant>,
}

/// One more check under way for `k` (its tally made when there is none; idle tallies are
/// pruned first once the table is full).
fn start_check<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, Tally>, k: &K) {
    if !map.contains_key(k) && map.len() >= LIMITER_MAX {
        map.retain(|_, t| !t.idle());
    }
    let t = map.entry(k.clone()).or_insert_with(Tally::new);
    t.in_flight = t.in_flight.saturating_add(1);
}

fn end_check<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Tally>, k: &K, failed: bool) {
    if let Some(t) = map.get_mut(k) {
        t.finish(failed);
        if t.idle() {
            map.remove(k);
        }
    }
}

/// What a login gets from the limiter now.
enum Decision {
    Refuse(Refused),
    Wait(std::sync::Arc<tokio::sync::Notify>),
    Check,
}

/// Limits failed password (HTTP Basic) logins, so that guessing cannot make real logins
/// wait behind a queue of Argon2id checks, and bounds the checks under way:
///
/// - per address: once `per_address` logins from one address failed within
///   [`FAILURE_WINDOW`], that address is answered 429 without a password check until the
///   window that began with its first failure has passed;
/// - per account: once `per_account` logins to one account failed within the window, its
///   password logins are answered 429, except from an address where that account logged
///   in successfully within the last 24 hours (so its usual user still gets in; from a new
///   address they wait for the window to pass). API keys (HMAC) are not affected.
///
/// Only completed failures count toward the 429s. Checks under way are bounded by the same
/// numbers: a login whose address (or, from an untrusted address, account) already has
/// `limit - failures` checks under way waits until one of them ends, then is decided
/// again. So honest concurrent logins from one address (a CI runner, a NAT) all get in,
/// queued, while a burst of wrong passwords costs at most `per_address` checks per window.
pub struct AuthLimiter {
    per_address: u32,
    per_account: u32,
    state: Mutex<LimitState>,
}

/// A password check under way: it counts as a failure unless [`Attempt::succeeded`] is
/// called (a wrong password, an unknown user, an error, or a client that went away).
pub struct Attempt<'a> {
    limiter: &'a AuthLimiter,
    ip: std::net::IpAddr,
    account: String,
    ended: bool,
}

impl AuthLimiter {
    pub fn new(per_address: u32, per_account: u32) -> AuthLimiter {
        AuthLimiter {
            per_address: per_address.max(1),
            per_account: per_account.max(1),
            state: Mutex::new(LimitState::default()),
        }
    }

    /// Before a password check for `account` from `ip`: 429 (with Retry-After) when the
    /// failures reach a limit; else, once no more than the limits' checks are under way
    /// (waiting for earlier ones to end, without holding the lock), the attempt. A client
    /// that goes away while waiting drops this future, which leaves nothing behind.
    pub async fn begin(&self, ip: std::net::IpAddr, account: &str) -> Result<Attempt<'_>, Refused> {
        let account = account.chars().take(64).collect::<String>();
        loop {
            // The waiter is registered under the lock, so no check can end unseen between
            // the decision and the wait; the lock is released before waiting.
            let finished = {
                let mut st = self
                    .state
                    .lock()
                    .map_err(|_| ApiError::internal("the login limiter is unusable"))?;
                match self.decide(&st, ip, &account) {
                    Decision::Refuse(r) => return Err(r),
                    Decision::Wait(n) => n.notified_owned(),
                    Decision::Check => {
                        start_check(&mut st.peers, &ip);
                        start_check(&mut st.accounts, &account);
                        return Ok(Attempt {
                            limiter: self,
                            ip,
                            account,
                            ended: false,
                        });
                    }
                }
            };
            finished.await;
        }
    }

    fn decide(&self, st: &LimitState, ip: std::net::IpAddr, account: &str) -> Decision {
        let limited = |w: &Window| {
            Decision::Refuse(Refused {
                error: ApiError::new(
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::TooManyFailures,
                    "Too many failed logins; wait before trying again",
                )
                .with_hint(Some(
                    "Wait for the time in Retry-After, or use an API key (HMAC), which is not limited"
                        .to_string(),
                )),
                retry_after: Some(w.remaining_secs()),
            })
        };
        let peer = st.peers.get(&ip);
        // The account's limits do not apply where it logged in recently.
        let trusted = st
            .good
            .get(&(account.to_string(), ip))
            .is_some_and(|at| at.elapsed() < REMEMBER_GOOD);
        let acct = if trusted {
            None
        } else {
            st.accounts.get(account)
        };
        // Completed failures: 429.
        if let Some(w) = peer.and_then(Tally::window) {
            if w.count >= self.per_address {
                return limited(w);
            }
        }
        if let Some(w) = acct.and_then(Tally::window) {
            if w.count >= self.per_account {
                return limited(w);
            }
        }
        // Checks under way that could still fail up to the limit: wait for one to end.
        if let Some(t) = peer {
            if t.failures().saturating_add(t.in_flight) >= self.per_address {
                return Decision::Wait(t.finished.clone());
            }
        }
        if let Some(t) = acct {
            if t.failures().saturating_add(t.in_flight) >= self.per_account {
                return Decision::Wait(t.finished.clone());
            }
        }
        Decision::Check
    }

    /// Addresses and accounts the limiter keeps a tally for (tests: nothing is left behind).
    #[cfg(test)]
    fn tallies(&self) -> usize {
        self.state
            .lock()
            .map(|st| st.peers.len() + st.accounts.len())
            .unwrap_or(usize::MAX)
    }

    /// Logins from `ip` waiting for a check to end (tests).
    #[cfg(test)]
    fn waiting(&self, ip: std::net::IpAddr) -> usize {
        self.state
            .lock()
            .ok()
            .and_then(|st| {
                st.peers
                    .get(&ip)
                    .map(|t| std::sync::Arc::strong_count(&t.finished) - 1)
            })
            .unwrap_or(0)
    }
}

impl Attempt<'_> {
    /// The password was right: the attempt is not a failure, and the address is trusted
    /// for this account.
    pub fn succeeded(mut self) {
        self.end(false);
    }

    fn end(&mut self, failed: bool) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        // Even after a panic elsewhere the tallies are whole (no update panics halfway), and
        // the logins waiting on this check must be woken.
        let mut st = self
            .limiter
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        end_check(&mut st.peers, &self.ip, failed);
        end_check(&mut st.accounts, &self.account, failed);
        if !failed {
            if st.good.len() >= LIMITER_MAX {
                st.good.retain(|_, at| at.elapsed() < REMEMBER_GOOD);
            }
            if st.good.len() < LIMITER_MAX {
                st.good
                    .insert((self.account.clone(), self.ip), Instant::now());
            }
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.end(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing_takes_first_and_last_colon() {
        let h = parse_hmac("gk_abc:2026-11-22T01:52:05.251312+00:00:deadbeef").unwrap();
        assert_eq!(h.key_id, "gk_abc");
        assert_eq!(h.timestamp, "2026-11-22T01:52:05.251312+00:00");
        assert_eq!(h.signature, "deadbeef");
        assert!(parse_hmac("nocolon").is_none());
        assert!(parse_hmac(":x:y").is_none());
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2026-11-22T01:52:05.251312+00:00").is_some());
        assert!(parse_timestamp("2026-11-22T01:52:05+00:00").is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn encryption_round_trip() {
        let k = ServerKey::generate().unwrap();
        let enc = k.encrypt("s3cret", "gk_1").unwrap();
        assert!(!enc.contains("s3cret"));
        assert_eq!(k.decrypt(&enc, "gk_1").as_deref(), Some("s3cret"));
        assert_eq!(k.decrypt(&enc, "gk_2"), None);
        let other = ServerKey::generate().unwrap();
        assert_eq!(other.decrypt(&enc, "gk_1"), None);
    }

    #[tokio::test]
    async fn failed_logins_are_limited_per_address_and_account() {
        let l = AuthLimiter::new(3, 5);
        let (a, b, good): (std::net::IpAddr, std::net::IpAddr, std::net::IpAddr) = (
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "10.0.0.9".parse().unwrap(),
        );
        // The usual address of "alice" logs in once.
        l.begin(good, "alice").await.unwrap().succeeded();
        for _ in 0..3 {
            drop(l.begin(a, "alice").await.unwrap());
        }
        let r = l.begin(a, "bob").await.err().unwrap();
        assert_eq!(r.error.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(r.retry_after.is_some_and(|s| (1..=300).contains(&s)));
        // Another address still may try; the account reaches its limit.
        drop(l.begin(b, "alice").await.unwrap());
        drop(l.begin(b, "alice").await.unwrap());
        let r = l.begin(b, "alice").await.err().unwrap();
        assert_eq!(r.error.code, ErrorCode::TooManyFailures);
        // ... but not for the address where alice logged in, nor for other accounts.
        l.begin(good, "alice").await.unwrap().succeeded();
        l.begin(b, "carol").await.unwrap().succeeded();
        // Successes do not count as failures.
        for _ in 0..10 {
            l.begin(good, "dave").await.unwrap().succeeded();
        }
    }

    /// A password check in the concurrency tests: counted, and held open until the gate
    /// opens, so that every other login arrives while the admitted ones are under way.
    async fn held_check(
        l: &AuthLimiter,
        ip: std::net::IpAddr,
        right: bool,
        checks: &std::sync::atomic::AtomicUsize,
        gate: &tokio::sync::Semaphore,
    ) -> Result<(), u16> {
        let attempt = l
            .begin(ip, "alice")
            .await
            .map_err(|r| r.error.status.as_u16())?;
        checks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _open = gate.acquire().await;
        if right {
            attempt.succeeded();
            Ok(())
        } else {
            Err(401)
        }
    }

    /// Runs `n` concurrent logins from `ip`; the gate opens once `per_address` checks are
    /// under way and every other login waits. Returns each outcome and the checks made.
    async fn concurrent_logins(
        l: std::sync::Arc<AuthLimiter>,
        ip: std::net::IpAddr,
        n: usize,
        per_address: usize,
        right: bool,
    ) -> (Vec<Result<(), u16>>, usize) {
        let checks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (l, checks, gate) = (l.clone(), checks.clone(), gate.clone());
                tokio::spawn(async move { held_check(&l, ip, right, &checks, &gate).await })
            })
            .collect();
        // Not a timing wait: each task registers (a check or a waiter) when first polled.
        // A task that ended before the gate opened was refused: then the outcomes tell.
        while (checks.load(std::sync::atomic::Ordering::SeqCst) < per_address
            || l.waiting(ip) < n - per_address)
            && !tasks.iter().any(|t| t.is_finished())
        {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            checks.load(std::sync::atomic::Ordering::SeqCst),
            per_address,
            "checks under way are bounded"
        );
        gate.add_permits(n);
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        (out, checks.load(std::sync::atomic::Ordering::SeqCst))
    }

    #[tokio::test]
    async fn concurrent_logins_from_one_address_wait_their_turn_instead_of_429() {
        let l = std::sync::Arc::new(AuthLimiter::new(10, 50));
        let (nat, home): (std::net::IpAddr, std::net::IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.9".parse().unwrap());
        // 30 right passwords at once from one address: all get in.
        let (out, checks) = concurrent_logins(l.clone(), nat, 30, 10, true).await;
        assert!(out.iter().all(|r| r.is_ok()), "{out:?}");
        assert_eq!(checks, 30);
        assert_eq!(l.tallies(), 0, "successes leave no tally behind");
        // 30 wrong passwords at once from another address: 10 checks, 20 answered 429.
        let flood: std::net::IpAddr = "10.0.0.66".parse().unwrap();
        let (out, checks) = concurrent_logins(l.clone(), flood, 30, 10, false).await;
        assert_eq!(checks, 10, "{out:?}");
        assert_eq!(out.iter().filter(|r| **r == Err(401)).count(), 10);
        assert_eq!(out.iter().filter(|r| **r == Err(429)).count(), 20);
        // The real user from her address still gets in, and the flooder is still refused.
        l.begin(home, "alice").await.unwrap().succeeded();
        let r = l.begin(flood, "alice").await.err().unwrap();
        assert_eq!(r.error.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(r.retry_after.is_some_and(|s| (1..=300).contains(&s)));
    }

    #[tokio::test]
    async fn a_waiting_login_whose_client_went_away_leaves_nothing_behind() {
        let l = AuthLimiter::new(2, 50);
        let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let first = l.begin(ip, "alice").await.unwrap();
        let second = l.begin(ip, "alice").await.unwrap();
        {
            // The third waits; polled once, then dropped as a request whose client left.
            let third = l.begin(ip, "alice");
            tokio::pin!(third);
            tokio::select! {
                biased;
                _ = &mut third => panic!("a third check under way"),
                _ = std::future::ready(()) => {}
            }
            assert_eq!(l.waiting(ip), 1);
        }
        assert_eq!(l.waiting(ip), 0);
        first.succeeded();
        second.succeeded();
        assert_eq!(l.tallies(), 0);
        // A failed check is remembered until its window ends.
        drop(l.begin(ip, "alice").await.unwrap());
        assert_eq!(l.tallies(), 2);
    }

    #[test]
    fn password_hashes() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong horse"));
        assert!(!verify_password("not a PHC string", "correct horse"));
    }

    /// A password hash and an API key secret stored by gryt-server built on argon2 0.5 and
    /// chacha20poly1305 0.10 (key: 32 bytes of 7) still verify and decrypt.
    #[test]
    fn stored_hashes_and_secrets_from_earlier_crates_still_read() {
        let h = "$argon2id$v=19$m=19456,t=2,p=1$ig2DVqp76LZyVueOrSwpsA$YsLAygpwiZE9DiSu+PxDZWloSq8YJDfgJnNqg8iQ47c";
        assert!(verify_password(h, "correct horse"));
        assert!(!verify_password(h, "wrong horse"));
        let k = ServerKey::from_bytes([7u8; 32]);
        let enc = "d6a21d8ab7a0de513620cdff8397a9a59b358f7fc79e9656d710413b93f3522faa23863270c577e7a7e543161e7c";
        assert_eq!(k.decrypt(enc, "gk_1").as_deref(), Some("s3cret"));
        assert_eq!(k.decrypt(enc, "gk_2"), None);
    }
}
