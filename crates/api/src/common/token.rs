//! Short JWTs (HS256) that authorize connections to one session without an Authorization
//! header: a CDP WebSocket (`cdp_ws_url`, as Kernel's `?jwt=` URLs do), or a live view, read-only
//! or in control. A live-view token never opens CDP, nor a CDP token a live view.

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
    /// What the token opens: absent for CDP, `live:read` or `live:control` for a live view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// Unix milliseconds it was issued at, so a revocation refuses the older ones.
    #[serde(default)]
    iat_ms: i64,
}

/// What a valid token lets its holder open.
#[derive(Debug, PartialEq, Eq)]
pub struct CdpGrant {
    /// The node running the session, when the token names one.
    pub node: Option<String>,
}

/// What a live-view token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveAccess {
    /// Watch only; the server drops the viewer's input.
    Read,
    /// Watch and drive the mouse and keyboard.
    Control,
}

impl LiveAccess {
    /// Its wire name: `read` or `control`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Control => "control",
        }
    }

    fn scope(self) -> &'static str {
        match self {
            Self::Read => "live:read",
            Self::Control => "live:control",
        }
    }
}

/// What a valid live-view token grants.
#[derive(Debug, PartialEq, Eq)]
pub struct LiveGrant {
    /// Read-only, or in control.
    pub access: LiveAccess,
    /// Unix milliseconds it was issued at.
    pub issued_at_ms: i64,
    /// The node running the session, when the token names one.
    pub node: Option<String>,
}

/// A CDP token for `session`, valid for `ttl` (at most [`CDP_TOKEN_TTL`]) or until the
/// session's fixed end (`lifetime_secs`), whichever comes first.
pub fn issue(signer: &Signer, session: &Session, ttl: time::Duration) -> String {
    sign(signer, session, ttl, None)
}

/// A live-view token for `session` with `access`, with the same lifetime rules as [`issue`].
pub fn issue_live(
    signer: &Signer,
    session: &Session,
    access: LiveAccess,
    ttl: time::Duration,
) -> String {
    sign(signer, session, ttl, Some(access.scope()))
}

fn sign(signer: &Signer, session: &Session, ttl: time::Duration, scope: Option<&str>) -> String {
    let now = OffsetDateTime::now_utc();
    let longest = now + ttl.min(CDP_TOKEN_TTL);
    let expires = session.expires_at().map_or(longest, |end| end.min(longest));
    let claims = Claims {
        sub: session.id.clone(),
        exp: expires.unix_timestamp(),
        node: session.node.clone(),
        scope: scope.map(str::to_owned),
        iat_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
    };
    // Claims are plain fields; serializing them cannot fail.
    let payload = serde_json::to_vec(&claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = URL_SAFE_NO_PAD.encode(signer.sign_raw(signing_input.as_bytes()));
    format!("{signing_input}.{sig}")
}

/// What a CDP `token` grants when it is unexpired, signed with the fleet's key, names
/// `session_id` and is not a live-view token; `None` otherwise.
pub fn verify(signer: &Signer, token: &str, session_id: &str) -> Option<CdpGrant> {
    open(signer, token, session_id)
        .filter(|c| c.scope.is_none())
        .map(|c| CdpGrant { node: c.node })
}

/// What a live-view `token` grants, on the same terms as [`verify`]; `None` for a CDP token.
pub fn verify_live(signer: &Signer, token: &str, session_id: &str) -> Option<LiveGrant> {
    let claims = open(signer, token, session_id)?;
    let access = match claims.scope.as_deref() {
        Some("live:read") => LiveAccess::Read,
        Some("live:control") => LiveAccess::Control,
        _ => return None,
    };
    Some(LiveGrant {
        access,
        issued_at_ms: claims.iat_ms,
        node: claims.node,
    })
}

/// The claims of `token` when it is signed with the fleet's key, unexpired and names
/// `session_id`.
fn open(signer: &Signer, token: &str, session_id: &str) -> Option<Claims> {
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
    claims.filter(|c| c.sub == session_id && c.exp > OffsetDateTime::now_utc().unix_timestamp())
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
    fn live_view_and_cdp_tokens_open_only_what_they_were_issued_for() {
        let signer = Signer::new("s");
        let running = session("abc", None);
        let read = issue_live(&signer, &running, LiveAccess::Read, CDP_TOKEN_TTL);
        let control = issue_live(&signer, &running, LiveAccess::Control, CDP_TOKEN_TTL);
        let cdp = issue(&signer, &running, CDP_TOKEN_TTL);
        assert_eq!(
            verify_live(&signer, &read, "abc").unwrap().access,
            LiveAccess::Read
        );
        assert_eq!(
            verify_live(&signer, &control, "abc").unwrap().access,
            LiveAccess::Control
        );
        assert!(
            verify(&signer, &read, "abc").is_none(),
            "a viewer never gets CDP"
        );
        assert!(verify(&signer, &control, "abc").is_none());
        assert!(verify_live(&signer, &cdp, "abc").is_none());
        assert!(verify_live(&signer, &read, "abd").is_none());
        let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let issued = verify_live(&signer, &read, "abc").unwrap().issued_at_ms;
        assert!((now_ms - 1_000..=now_ms).contains(&issued), "{issued}");
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
