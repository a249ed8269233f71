//! JSON Web Tokens of the platform API: HS256 access and refresh tokens.
//!
//! Invariants:
//! - Only HS256 with the configured secret (at least 32 bytes) is accepted; `alg: none`,
//!   any other algorithm, a wrong signature, a wrong `iss` or `aud` are rejected.
//! - Expiry is checked against the injected [`Clock`](crate::ports::Clock), not the
//!   system time (`exp` is required; `nbf`, when present, too), with no leeway.
//! - Every token names its kind in the `typ` claim ([`TokenKind`]); a refresh token is
//!   never accepted where an access token is expected, nor the reverse.
//! - Every token belongs to a session family (`fam`); refresh tokens rotate within it and
//!   the family is what logout and reuse detection revoke (see `v1::ports::SessionStore`).
//! - Verification failures are one opaque [`JwtError`]; the reason is only for logs.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Shortest accepted HS256 secret (RFC 7518 section 3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Token settings.
#[derive(Clone)]
pub struct JwtConfig {
    secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish()
    }
}

impl JwtConfig {
    /// Settings with 15-minute access and 14-day refresh tokens. Fails on a short secret.
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Result<JwtConfig, JwtError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(JwtError::WeakSecret);
        }
        Ok(JwtConfig {
            secret: secret.to_vec(),
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(14 * 86_400),
        })
    }
}

/// Which kind of token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims of every token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub iss: String,
    pub aud: String,
    /// Seconds since the epoch.
    pub iat: i64,
    pub exp: i64,
    /// Unique token id (the refresh rotation compares it).
    pub jti: String,
    /// Session family.
    pub fam: String,
    pub typ: TokenKind,
}

/// Why a token was not issued or not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
    /// Signature, algorithm, issuer, audience or shape is wrong.
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("wrong token kind")]
    WrongKind,
    #[error("cannot sign token: {0}")]
    Sign(String),
}

/// Signs `claims` with HS256.
pub fn issue(config: &JwtConfig, claims: &Claims) -> Result<String, JwtError> {
    let header = Header { typ: Some("JWT".into()), ..Header::new(Algorithm::HS256) };
    encode(&header, claims, &EncodingKey::from_secret(&config.secret)).map_err(|e| JwtError::Sign(e.to_string()))
}

/// Claims for a new token of `kind` issued at `now_ns`.
pub fn claims(config: &JwtConfig, kind: TokenKind, user_id: &str, family: &str, jti: &str, now_ns: i64) -> Claims {
    let now = now_ns.div_euclid(1_000_000_000);
    let ttl = match kind {
        TokenKind::Access => config.access_ttl,
        TokenKind::Refresh => config.refresh_ttl,
    };
    Claims {
        sub: user_id.into(),
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        iat: now,
        exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        jti: jti.into(),
        fam: family.into(),
        typ: kind,
    }
}

#[derive(Deserialize)]
struct NotBefore {
    nbf: Option<i64>,
}

/// Verifies a token of `kind` at `now_ns` and returns its claims.
pub fn verify(config: &JwtConfig, token: &str, kind: TokenKind, now_ns: i64) -> Result<Claims, JwtError> {
    let mut v = Validation::new(Algorithm::HS256);
    v.algorithms = vec![Algorithm::HS256];
    v.set_issuer(&[&config.issuer]);
    v.set_audience(&[&config.audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Time is checked below against the injected clock.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = 0;
    let key = DecodingKey::from_secret(&config.secret);
    let data = decode::<serde_json::Value>(token, &key, &v).map_err(|e| JwtError::Invalid(e.to_string()))?;
    let nbf: NotBefore = serde_json::from_value(data.claims.clone()).map_err(|e| JwtError::Invalid(e.to_string()))?;
    let claims: Claims = serde_json::from_value(data.claims).map_err(|e| JwtError::Invalid(e.to_string()))?;
    let now = now_ns.div_euclid(1_000_000_000);
    if now >= claims.exp {
        return Err(JwtError::Expired);
    }
    if nbf.nbf.is_some_and(|nbf| now < nbf) {
        return Err(JwtError::NotYetValid);
    }
    if claims.typ != kind {
        return Err(JwtError::WrongKind);
    }
    Ok(claims)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";
    const NOW: i64 = 1_700_000_000 * 1_000_000_000;

    pub(crate) fn config() -> JwtConfig {
        JwtConfig::new(SECRET, "tradeflow", "tradeflow-api").unwrap()
    }

    /// base64url without padding (tests craft tokens by hand).
    pub(crate) fn b64url(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    /// An unsigned `alg: none` token with the given claims.
    pub(crate) fn alg_none(claims: &Claims) -> String {
        let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
        let body = b64url(serde_json::to_string(claims).unwrap().as_bytes());
        format!("{header}.{body}.")
    }

    fn access() -> Claims {
        claims(&config(), TokenKind::Access, "u-1", "fam-1", "jti-1", NOW)
    }

    #[test]
    fn round_trip_and_kind() {
        let c = config();
        let t = issue(&c, &access()).unwrap();
        assert_eq!(verify(&c, &t, TokenKind::Access, NOW).unwrap(), access());
        assert_eq!(verify(&c, &t, TokenKind::Refresh, NOW), Err(JwtError::WrongKind));
        let r = issue(&c, &claims(&c, TokenKind::Refresh, "u-1", "fam-1", "jti-2", NOW)).unwrap();
        assert_eq!(verify(&c, &r, TokenKind::Access, NOW), Err(JwtError::WrongKind), "refresh token used as access token");
    }

    #[test]
    fn alg_none_and_wrong_signature_are_rejected() {
        let c = config();
        assert!(matches!(verify(&c, &alg_none(&access()), TokenKind::Access, NOW), Err(JwtError::Invalid(_))));
        let other = JwtConfig::new(b"another-secret-another-secret-another", "tradeflow", "tradeflow-api").unwrap();
        let forged = issue(&other, &access()).unwrap();
        assert!(matches!(verify(&c, &forged, TokenKind::Access, NOW), Err(JwtError::Invalid(_))));
        // Flipping one character of the signature.
        let t = issue(&c, &access()).unwrap();
        let mut bytes = t.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(matches!(verify(&c, &String::from_utf8(bytes).unwrap(), TokenKind::Access, NOW), Err(JwtError::Invalid(_))));
        // HS384 with the right secret is still another algorithm.
        let hs384 = encode(&Header::new(Algorithm::HS384), &access(), &EncodingKey::from_secret(SECRET)).unwrap();
        assert!(matches!(verify(&c, &hs384, TokenKind::Access, NOW), Err(JwtError::Invalid(_))));
    }

    #[test]
    fn wrong_issuer_audience_and_time_are_rejected() {
        let c = config();
        let wrong_iss = issue(&c, &Claims { iss: "evil".into(), ..access() }).unwrap();
        assert!(matches!(verify(&c, &wrong_iss, TokenKind::Access, NOW), Err(JwtError::Invalid(_))));
        let wrong_aud = issue(&c, &Claims { aud: "other-api".into(), ..access() }).unwrap();
        assert!(matches!(verify(&c, &wrong_aud, TokenKind::Access, NOW), Err(JwtError::Invalid(_))));
        let t = issue(&c, &access()).unwrap();
        let exp_ns = access().exp * 1_000_000_000;
        assert!(verify(&c, &t, TokenKind::Access, exp_ns - 1).is_ok());
        assert_eq!(verify(&c, &t, TokenKind::Access, exp_ns), Err(JwtError::Expired));
        let mut future = serde_json::to_value(access()).unwrap();
        future["nbf"] = serde_json::json!(access().iat + 60);
        let early = encode(&Header::new(Algorithm::HS256), &future, &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(verify(&c, &early, TokenKind::Access, NOW), Err(JwtError::NotYetValid));
        let mut no_exp = serde_json::to_value(access()).unwrap();
        no_exp.as_object_mut().unwrap().remove("exp");
        let t = encode(&Header::new(Algorithm::HS256), &no_exp, &EncodingKey::from_secret(SECRET)).unwrap();
        assert!(matches!(verify(&c, &t, TokenKind::Access, NOW), Err(JwtError::Invalid(_))));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(JwtConfig::new(b"short", "i", "a").unwrap_err(), JwtError::WeakSecret);
        assert!(!format!("{:?}", config()).contains("0123456789abcdef"), "secret is redacted");
    }
}
