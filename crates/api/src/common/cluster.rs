//! How one node of a fleet tells another whose request it forwards. The user's API key never
//! travels between nodes: the node that received the request checked it, and the forwarded
//! request carries the key's record instead, signed with the cluster secret together with the
//! method, the path and the time, so it cannot be replayed later or onto another route.

use axum::http::{HeaderMap, HeaderValue, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use tapedeck_core::ApiKeyRecord;
use tapedeck_store::Signer;
use time::OffsetDateTime;

/// The key record of the forwarded request's caller, base64url JSON.
pub const CALLER_HEADER: &str = "x-tapedeck-forwarded-caller";
/// When the request was forwarded, Unix seconds.
pub const AT_HEADER: &str = "x-tapedeck-forwarded-at";
/// HMAC-SHA256 (hex) of the above with the method and path, under the cluster key.
pub const SIGNATURE_HEADER: &str = "x-tapedeck-forwarded-sig";

/// Most seconds a forwarded request's time may differ from this node's clock: nodes share a
/// database, so their clocks are expected to be NTP-close.
const CLOCK_SLACK_SECS: i64 = 60;

/// Signs and checks forwarded requests with a key derived from `--cluster-secret`.
#[derive(Clone)]
pub struct ClusterAuth {
    signer: Signer,
}

impl ClusterAuth {
    /// Forwarding auth keyed by the cluster secret (through [`Signer::derive`]).
    pub fn new(cluster: &Signer) -> Self {
        Self {
            signer: cluster.derive("tapedeck forwarded requests v1"),
        }
    }

    /// The headers that forward `caller`'s `method` request on `path_and_query`, at `now`.
    pub fn sign(
        &self,
        caller: &ApiKeyRecord,
        method: &Method,
        path_and_query: &str,
        now: OffsetDateTime,
    ) -> Vec<(&'static str, HeaderValue)> {
        // The record holds strings, a bool and times: it always serializes.
        let caller = URL_SAFE_NO_PAD.encode(serde_json::to_vec(caller).unwrap_or_default());
        let at = now.unix_timestamp().to_string();
        let sig = self
            .signer
            .sign(signing_input(&at, method, path_and_query, &caller).as_bytes());
        [
            (CALLER_HEADER, caller),
            (AT_HEADER, at),
            (SIGNATURE_HEADER, sig),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, HeaderValue::from_str(&value).ok()?)))
        .collect()
    }

    /// The caller a forwarded request names, when its signature holds at `now`: `None` when a
    /// header is missing or malformed, the signature is wrong, or the time is too far off.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        method: &Method,
        path_and_query: &str,
        now: OffsetDateTime,
    ) -> Option<ApiKeyRecord> {
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(caller), Some(at), Some(sig)) =
            (text(CALLER_HEADER), text(AT_HEADER), text(SIGNATURE_HEADER))
        else {
            return None;
        };
        let fresh = at
            .parse::<i64>()
            .is_ok_and(|at| (now.unix_timestamp() - at).abs() <= CLOCK_SLACK_SECS);
        if !fresh
            || !self.signer.verify(
                signing_input(at, method, path_and_query, caller).as_bytes(),
                sig,
            )
        {
            return None;
        }
        let json = URL_SAFE_NO_PAD.decode(caller).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

/// True when `headers` claim to come from another node (whatever their signature).
pub fn claims_forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(SIGNATURE_HEADER)
}

fn signing_input(at: &str, method: &Method, path_and_query: &str, caller: &str) -> String {
    format!("{at}\n{method}\n{path_and_query}\n{caller}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> ApiKeyRecord {
        ApiKeyRecord {
            id: "k1".into(),
            name: "ci".into(),
            project: "team-a".into(),
            admin: false,
            created_at: OffsetDateTime::UNIX_EPOCH,
            revoked_at: None,
        }
    }

    fn signed(auth: &ClusterAuth, now: OffsetDateTime) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in auth.sign(&caller(), &Method::POST, "/kernel/browsers", now) {
            headers.insert(name, value);
        }
        headers
    }

    #[test]
    fn another_node_with_the_same_secret_accepts_the_caller_it_was_sent() {
        let now = OffsetDateTime::now_utc();
        let headers = signed(&ClusterAuth::new(&Signer::new("s")), now);
        assert!(claims_forwarded(&headers));
        let other_node = ClusterAuth::new(&Signer::new("s"));
        assert_eq!(
            other_node.verify(&headers, &Method::POST, "/kernel/browsers", now),
            Some(caller())
        );
    }

    #[test]
    fn a_wrong_secret_route_method_time_or_caller_is_refused() {
        let now = OffsetDateTime::now_utc();
        let auth = ClusterAuth::new(&Signer::new("s"));
        let headers = signed(&auth, now);
        let refused = |auth: &ClusterAuth, headers: &HeaderMap, method, path, at| {
            auth.verify(headers, method, path, at).is_none()
        };
        let path = "/kernel/browsers";
        assert!(refused(
            &ClusterAuth::new(&Signer::new("t")),
            &headers,
            &Method::POST,
            path,
            now
        ));
        assert!(refused(
            &auth,
            &headers,
            &Method::POST,
            "/kernel/browsers/x",
            now
        ));
        assert!(refused(&auth, &headers, &Method::DELETE, path, now));
        let later = now + time::Duration::seconds(CLOCK_SLACK_SECS + 1);
        assert!(refused(&auth, &headers, &Method::POST, path, later));
        let mut admin = caller();
        admin.admin = true;
        let mut forged = headers.clone();
        let forged_caller = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).unwrap());
        forged.insert(CALLER_HEADER, forged_caller.parse().unwrap());
        assert!(refused(&auth, &forged, &Method::POST, path, now));
        assert!(refused(&auth, &HeaderMap::new(), &Method::POST, path, now));
    }
}
