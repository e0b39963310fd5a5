//! `notification.endPoint`: where callbacks go (docs/callbacks.md). Only the form is checked here;
//! which addresses a URL may reach (the SSRF guard) is decided by the host when it delivers.

use super::fields::{Fields, Text};
use super::limits::{MAX_CALLBACK_HEADER_CHARS, MAX_CALLBACK_URL_CHARS, MAX_CREDENTIAL_CHARS};
use crate::request::model::Endpoint;
use crate::request::report::{ProblemKind, Report};

/// Header fields the host writes itself when it delivers a callback: message framing and
/// connection handling (RFC 9112 §6, RFC 9110 §7.6.1), where a second `Content-Length` or
/// `Transfer-Encoding` would desynchronise the receiver, and the Standard Webhooks headers
/// (docs/callbacks.md), which a receiver must be able to trust came from sealmail.
const RESERVED_CALLBACK_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// Reads `/notification`.
pub(crate) fn notification(r: &mut Report, root: &Fields) -> Option<Option<Endpoint>> {
    let Some(notification) = root.object_member(r, "notification", false, &["endPoint"]) else {
        return root.raw("notification").is_none().then_some(None);
    };
    let endpoint = notification.object_member(r, "endPoint", true, &["url", "headers", "authentication"])?;
    let before = r.problem_count();
    let url =
        endpoint.text(r, "url", Text::header(MAX_CALLBACK_URL_CHARS).required()).and_then(|u| match check_url(u) {
            Ok(()) => Some(u.to_owned()),
            Err(why) => {
                r.problem(&endpoint.path.key("url"), ProblemKind::InvalidUrl, why);
                None
            }
        });
    let headers = endpoint.map_member(r, "headers", false).map(|map| {
        let mut total = 0;
        let mut out = Vec::new();
        for (name, value) in map.members() {
            let path = map.path.key(name);
            total += name.chars().count();
            // RFC 9110 §5.6.2: a field name is a token.
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
                r.problem(&path, ProblemKind::InvalidHeaderName, format!("\"{}\" is not an HTTP header name", name.escape_debug()));
                continue;
            }
            if RESERVED_CALLBACK_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                r.problem(
                    &path,
                    ProblemKind::InvalidHeaderName,
                    format!("\"{name}\" is set by sealmail itself when it delivers a callback and cannot be given here"),
                );
                continue;
            }
            if name.eq_ignore_ascii_case("authorization") && endpoint.raw("authentication").is_some() {
                r.problem(
                    &path,
                    ProblemKind::RuleViolation,
                    "conflicts with /notification/endPoint/authentication: give the credentials in one place",
                );
                continue;
            }
            if let Some(v) = super::fields::check_text(r, &path, value, Text::header(MAX_CALLBACK_HEADER_CHARS)) {
                total += v.chars().count();
                out.push((name.clone(), v.to_owned()));
            }
        }
        if total > MAX_CALLBACK_HEADER_CHARS {
            r.problem(&map.path, ProblemKind::TooLong, format!("the headers have {total} characters in names and values; at most {MAX_CALLBACK_HEADER_CHARS} are allowed"));
        }
        out
    });
    let basic_auth =
        endpoint.object_member(r, "authentication", false, &["method", "user", "password"]).and_then(|auth| {
            let method = auth.text(r, "method", Text::header(16).required());
            if let Some(m) = method
                && !m.eq_ignore_ascii_case("BASIC")
            {
                r.problem(
                    &auth.path.key("method"),
                    ProblemKind::InvalidValue,
                    format!("\"{m}\" is not supported; the only method is BASIC"),
                );
            }
            let user = auth.text(r, "user", Text::header(MAX_CREDENTIAL_CHARS).required());
            if let Some(u) = user
                && u.contains(':')
            {
                // RFC 7617 §2: the user-id cannot contain a colon.
                r.problem(&auth.path.key("user"), ProblemKind::InvalidValue, "must not contain ':' (RFC 7617)");
            }
            let password = auth.text(r, "password", Text::header(MAX_CREDENTIAL_CHARS).required());
            Some((user?.to_owned(), password?.to_owned()))
        });
    if r.problem_count() > before {
        return None;
    }
    Some(Some(Endpoint { url: url?, headers: headers.unwrap_or_default(), basic_auth }))
}

/// An absolute `http://` or `https://` URL with a host, and no credentials in it (they
/// belong in `authentication`, where they are not logged with the URL).
fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) else {
        return Err("must be an absolute http:// or https:// URL".to_owned());
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain white space".to_owned());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain user:password; use authentication".to_owned());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or("has an unclosed '[' in the host")?;
        addr.parse::<std::net::Ipv6Addr>().map_err(|_| format!("\"{addr}\" is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| format!("has \"{after}\" after the IPv6 address"))?),
        };
        (addr, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("\"{port}\" is not a port number"));
    }
    if host.is_empty() {
        return Err("has no host".to_owned());
    }
    let ldh = |l: &str| {
        !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !authority.starts_with('[') && !host.trim_end_matches('.').split('.').all(ldh) {
        return Err(format!("\"{host}\" is not a host name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls() {
        for ok in [
            "https://hooks.customer.example/sealmail/events",
            "http://127.0.0.1:8080/cb?x=1",
            "https://[::1]:9/x",
            "HTTPS://A.EXAMPLE",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ftp://a.example/",
            "https://",
            "https://u:p@a.example/",
            "https://a.example:99999/",
            "https://a b.example/",
            "https://[zz]/",
            "https://[::1]x/",
            "//a.example",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
