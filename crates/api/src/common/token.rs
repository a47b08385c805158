//! Short JWTs (HS256) that authorize one CDP WebSocket connection to one session, so that a
//! `cdp_ws_url` works without an Authorization header, as Kernel's `?jwt=` URLs do.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tapedeck_core::Session;
use tapedeck_store::Signer;
use time::OffsetDateTime;

/// Longest a CDP URL stays usable; never longer than its session's own lifetime. A deleted or
/// expired session's tokens are refused anyway: the relay only connects to live sessions, and a
/// session id is never reused.
pub const CDP_TOKEN_TTL: time::Duration = time::Duration::days(7);

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[derive(Serialize, Deserialize)]
struct Claims {
    /// The session the token opens.
    sub: String,
    /// Unix expiry.
    exp: i64,
    /// The fleet node running the session, so that any node relays the connection to it
    /// without looking the session up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node: Option<String>,
}

/// What a valid token lets its holder open.
#[derive(Debug, PartialEq, Eq)]
pub struct CdpGrant {
    /// The node running the session, when the token names one.
    pub node: Option<String>,
}

/// A token for `session`, valid for `ttl` (at most [`CDP_TOKEN_TTL`]) or until the session's
/// fixed end (`lifetime_secs`), whichever comes first.
pub fn issue(signer: &Signer, session: &Session, ttl: time::Duration) -> String {
    let longest = OffsetDateTime::now_utc() + ttl.min(CDP_TOKEN_TTL);
    let expires = session.expires_at().map_or(longest, |end| end.min(longest));
    let claims = Claims {
        sub: session.id.clone(),
        exp: expires.unix_timestamp(),
        node: session.node.clone(),
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

/// What `token` grants when it is unexpired, signed with the fleet's key, and names
/// `session_id`; `None` otherwise.
pub fn verify(signer: &Signer, token: &str, session_id: &str) -> Option<CdpGrant> {
    let (signing_input, sig) = token.rsplit_once('.')?;
    let sig_ok = URL_SAFE_NO_PAD
        .decode(sig)
        .is_ok_and(|sig| signer.verify_raw(signing_input.as_bytes(), &sig));
    if !sig_ok {
        return None;
    }
    let claims = signing_input
        .split_once('.')
        .and_then(|(_, payload)| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|json| serde_json::from_slice::<Claims>(&json).ok());
    claims
        .filter(|c| c.sub == session_id && c.exp > OffsetDateTime::now_utc().unix_timestamp())
        .map(|c| CdpGrant { node: c.node })
}

#[cfg(test)]
mod tests {
    use tapedeck_core::{SessionSpec, SessionState, Viewport};

    use super::*;

    fn session(id: &str, lifetime_secs: Option<u64>) -> Session {
        Session {
            id: id.to_owned(),
            project: "default".into(),
            spec: SessionSpec {
                lifetime_secs,
                ..SessionSpec::browser(Viewport::default(), 60)
            },
            state: SessionState::Running,
            created_at: OffsetDateTime::now_utc(),
            deleted_at: None,
            end_reason: None,
            node: None,
        }
    }

    fn claims_of(token: &str) -> Claims {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn a_token_opens_only_its_own_session() {
        let signer = Signer::new("s");
        let token = issue(&signer, &session("abc", None), CDP_TOKEN_TTL);
        assert!(verify(&signer, &token, "abc").is_some());
        assert!(verify(&signer, &token, "abd").is_none());
        assert!(verify(&Signer::new("other"), &token, "abc").is_none());
        assert!(verify(&signer, &format!("{token}0"), "abc").is_none());
        assert!(verify(&signer, "garbage", "abc").is_none());
    }

    #[test]
    fn a_token_names_the_node_running_its_session() {
        let signer = Signer::new("s");
        let mut running = session("abc", None);
        running.node = Some("node-b".into());
        let token = issue(&signer, &running, CDP_TOKEN_TTL);
        let grant = verify(&signer, &token, "abc").expect("valid");
        assert_eq!(grant.node.as_deref(), Some("node-b"));
    }

    #[test]
    fn a_token_lives_no_longer_than_its_session() {
        let signer = Signer::new("s");
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let short = claims_of(&issue(&signer, &session("abc", Some(60)), CDP_TOKEN_TTL));
        assert!((now + 59..=now + 61).contains(&short.exp), "{}", short.exp);
        let open = claims_of(&issue(&signer, &session("abc", None), CDP_TOKEN_TTL));
        assert_eq!(
            open.exp,
            (OffsetDateTime::now_utc() + CDP_TOKEN_TTL).unix_timestamp()
        );
        // A shorter lifetime asked for wins over the session's.
        let asked = claims_of(&issue(
            &signer,
            &session("abc", None),
            time::Duration::minutes(5),
        ));
        assert!(
            (now + 299..=now + 301).contains(&asked.exp),
            "{}",
            asked.exp
        );
        // A session already past its end gets a token that is already dead.
        let ended = issue(&signer, &session("abc", Some(0)), CDP_TOKEN_TTL);
        assert!(verify(&signer, &ended, "abc").is_none());
    }

    #[test]
    fn another_sessions_claims_under_a_valid_signature_are_refused() {
        let signer = Signer::new("s");
        let token = issue(&signer, &session("abc", None), CDP_TOKEN_TTL);
        let other = issue(&signer, &session("xyz", None), CDP_TOKEN_TTL);
        // abc's header and signature around xyz's claims: the signature no longer matches.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            other.split('.').nth(1).unwrap(),
            parts[2]
        );
        assert!(verify(&signer, &forged, "xyz").is_none());
        // An unsigned token (`alg: none`, empty signature) is refused too.
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert!(verify(&signer, &unsigned, "abc").is_none());
    }
}
