//! What the proxy answers when it cannot forward a request: the status, a short text naming the
//! cause, and a `Proxy-Status` header (RFC 9209) with the cause's registered error type, so a
//! client (and its logs) can tell a typo'd host from a down app or an untrusted certificate.

use std::error::Error as StdError;
use std::io;

use hudsucker::hyper::StatusCode;
use tapedeck_upstream::checked::TargetError;

/// The proxy's name in `Proxy-Status`.
const PROXY_NAME: &str = "tapedeck";

/// Why a request could not be forwarded, as the client hears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFailure {
    /// 403 for a refused target, 504 for a timeout, 502 otherwise.
    pub status: StatusCode,
    /// RFC 9209's error type: `dns_error`, `connection_refused`, `connection_timeout`,
    /// `tls_certificate_error`, `destination_ip_prohibited` or `destination_unavailable`.
    pub error_type: &'static str,
    /// One line for people.
    pub message: String,
}

impl UpstreamFailure {
    /// Classifies `error` by the first cause in its chain that says what went wrong.
    pub fn of(error: &(dyn StdError + 'static)) -> Self {
        let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
        while let Some(current) = cause {
            if let Some(target) = current.downcast_ref::<TargetError>() {
                return Self::of_target(target);
            }
            if let Some(tls) = current.downcast_ref::<rustls::Error>() {
                return Self::tls(tls);
            }
            // An io::Error's `source` skips the error it wraps; look at that one first.
            cause = match current
                .downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
            {
                Some(wrapped) => Some(wrapped as &(dyn StdError + 'static)),
                None => current.source(),
            };
        }
        Self {
            status: StatusCode::BAD_GATEWAY,
            error_type: "destination_unavailable",
            message: format!("the request could not be forwarded: {error}"),
        }
    }

    fn of_target(error: &TargetError) -> Self {
        let (status, error_type) = match error {
            TargetError::Refused { .. } => (StatusCode::FORBIDDEN, "destination_ip_prohibited"),
            TargetError::Unresolved { .. } => (StatusCode::BAD_GATEWAY, "dns_error"),
            TargetError::Connect { source, .. } => match source.kind() {
                io::ErrorKind::ConnectionRefused => (StatusCode::BAD_GATEWAY, "connection_refused"),
                io::ErrorKind::TimedOut => (StatusCode::GATEWAY_TIMEOUT, "connection_timeout"),
                _ => (StatusCode::BAD_GATEWAY, "destination_unavailable"),
            },
        };
        Self {
            status,
            error_type,
            message: error.to_string(),
        }
    }

    fn tls(error: &rustls::Error) -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            error_type: "tls_certificate_error",
            message: format!(
                "the upstream's TLS certificate is not trusted ({error}); a private CA goes in \
                 --upstream-ca-file"
            ),
        }
    }

    /// The body: `Tapedeck's proxy: <message>` and a newline.
    pub fn body(&self) -> String {
        format!("Tapedeck's proxy: {}\n", self.message)
    }

    /// The `Proxy-Status` value, e.g. `tapedeck; error=dns_error; details="…"`.
    pub fn proxy_status(&self) -> String {
        // A structured-field string: printable ASCII, with `"` and `\` escaped.
        let details: String = self
            .message
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!(
            "{PROXY_NAME}; error={}; details=\"{details}\"",
            self.error_type
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(kind: io::ErrorKind) -> TargetError {
        TargetError::Connect {
            target: "app.test:80".into(),
            source: io::Error::new(kind, "boom"),
        }
    }

    #[test]
    fn each_cause_gets_its_registered_error_type_and_status() {
        let unresolved = TargetError::Unresolved {
            target: "www.shop.test:80".into(),
            source: io::Error::other("failed to lookup address information"),
        };
        let failure = UpstreamFailure::of(&unresolved);
        assert_eq!(
            (failure.status, failure.error_type),
            (StatusCode::BAD_GATEWAY, "dns_error")
        );
        assert!(failure.body().contains("www.shop.test:80 does not resolve"));
        let refused = UpstreamFailure::of(&connect(io::ErrorKind::ConnectionRefused));
        assert_eq!(refused.error_type, "connection_refused");
        let slow = UpstreamFailure::of(&connect(io::ErrorKind::TimedOut));
        assert_eq!(
            (slow.status, slow.error_type),
            (StatusCode::GATEWAY_TIMEOUT, "connection_timeout")
        );
        let tls = UpstreamFailure::of(&io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        )));
        assert_eq!(tls.error_type, "tls_certificate_error");
        assert!(tls.message.contains("--upstream-ca-file"));
    }

    #[test]
    fn details_are_a_valid_structured_field_string() {
        let failure = UpstreamFailure {
            status: StatusCode::BAD_GATEWAY,
            error_type: "dns_error",
            message: "a \"quoted\" \\ name\u{7}é".into(),
        };
        assert_eq!(
            failure.proxy_status(),
            r#"tapedeck; error=dns_error; details="a \"quoted\" \\ name""#
        );
    }
}
