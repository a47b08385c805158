//! Short JWTs (HS256) that authorize one CDP WebSocket connection to one session, so that a
//! `cdp_ws_url` works without an Authorization header, as Kernel's `?jwt=` URLs do.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tapedeck_store::Signer;
use time::OffsetDateTime;

/// How long a CDP URL stays usable.
pub const CDP_TOKEN_TTL: time::Duration = time::Duration::days(7);

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[derive(Serialize, Deserialize)]
struct Claims {
    /// The session the token opens.
    sub: String,
    /// Unix expiry.
    exp: i64,
}

/// A token for `session_id`, valid for [`CDP_TOKEN_TTL`].
pub fn issue(signer: &Signer, session_id: &str) -> String {
    let claims = Claims {
        sub: session_id.to_owned(),
        exp: (OffsetDateTime::now_utc() + CDP_TOKEN_TTL).unix_timestamp(),
    };
    // Claims are two plain fields; serializing them cannot fail.
    let payload = serde_json::to_vec(&claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = URL_SAFE_NO_PAD.encode(signer.sign_raw(signing_input.as_bytes()));
    format!("{signing_input}.{sig}")
}

/// True when `token` is unexpired, signed by us, and names `session_id`.
pub fn verify(signer: &Signer, token: &str, session_id: &str) -> bool {
    let Some((signing_input, sig)) = token.rsplit_once('.') else {
        return false;
    };
    let sig_ok = URL_SAFE_NO_PAD
        .decode(sig)
        .is_ok_and(|sig| signer.verify_raw(signing_input.as_bytes(), &sig));
    if !sig_ok {
        return false;
    }
    let claims = signing_input
        .split_once('.')
        .and_then(|(_, payload)| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|json| serde_json::from_slice::<Claims>(&json).ok());
    claims
        .is_some_and(|c| c.sub == session_id && c.exp > OffsetDateTime::now_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_its_own_session() {
        let signer = Signer::new("s");
        let token = issue(&signer, "abc");
        assert!(verify(&signer, &token, "abc"));
        assert!(!verify(&signer, &token, "abd"));
        assert!(!verify(&Signer::new("other"), &token, "abc"));
        assert!(!verify(&signer, &format!("{token}0"), "abc"));
        assert!(!verify(&signer, "garbage", "abc"));
    }
}
