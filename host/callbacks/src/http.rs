//! One callback `POST`, through the SSRF guard ([`super::ssrf`]).
//!
//! The client resolves names itself ([`CheckedResolver`]): the configured override map
//! first (so tests can give names private addresses offline), else the system resolver.
//! Only addresses the [`AddressPolicy`] allows are handed to the connector, so the
//! connection goes to the address that was checked — there is no second resolution an
//! attacker's DNS could answer differently. Literal addresses in the URL never reach a
//! resolver and are checked before the request. Redirects are not followed (a `3xx` is the
//! endpoint's answer), and proxies from the environment are ignored: through a proxy the
//! check would be of the proxy's address, not the endpoint's.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::ssrf::{AddressPolicy, Refused};

/// Why a callback could not be posted (an answer, whatever its status, is not an error).
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The URL is not an absolute http(s) URL (the validator normally refuses it earlier).
    #[error("the callback URL {url:?} is not usable: {why}")]
    Url {
        /// The URL as configured or requested.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The endpoint's address is one callbacks may not reach. Retrying cannot help.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// No answer: the name did not resolve, the connection failed or timed out. Retried.
    #[error("the callback endpoint did not answer: {0}")]
    Unreachable(String),
}

/// What to post.
#[derive(Debug, Clone, Default)]
pub struct Post {
    /// The endpoint.
    pub url: String,
    /// Headers: the request's custom ones and the signature headers.
    pub headers: Vec<(String, String)>,
    /// `authentication.method: BASIC` (user, password).
    pub basic_auth: Option<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Posts callbacks; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Poster {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
}

impl Poster {
    /// A poster that reaches only what `policy` allows, resolving names through `overrides`
    /// first, and gives up on an attempt after `timeout`.
    pub fn new(
        policy: AddressPolicy,
        overrides: HashMap<String, Vec<IpAddr>>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let resolver = CheckedResolver { policy: policy.clone(), overrides: Arc::new(lowercase_keys(overrides)) };
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(resolver))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!("sealmail/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, policy })
    }

    /// Posts `post` once; the endpoint's HTTP status, or why there is none.
    pub async fn post(&self, post: &Post) -> Result<u16, PostError> {
        let url =
            reqwest::Url::parse(&post.url).map_err(|e| PostError::Url { url: post.url.clone(), why: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PostError::Url { url: post.url.clone(), why: "only http and https are allowed".into() });
        }
        if url.host().is_none() {
            return Err(PostError::Url { url: post.url.clone(), why: "it has no host".into() });
        }
        // Names are checked by the resolver.
        self.policy.check_literal_host(&url)?;
        let mut request = self.client.post(url).header("content-type", "application/json").body(post.body.clone());
        for (name, value) in &post.headers {
            request = request.header(name, value);
        }
        if let Some((user, password)) = &post.basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => Err(refusal_in(&e).map_or_else(|| PostError::Unreachable(chain(&e)), PostError::Refused)),
        }
    }
}

/// Resolves through the override map or the system, and returns only allowed addresses.
struct CheckedResolver {
    policy: Arc<AddressPolicy>,
    overrides: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (policy, overrides) = (self.policy.clone(), self.overrides.clone());
        let name = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            let found: Vec<IpAddr> = match overrides.get(&name) {
                Some(addresses) => addresses.clone(),
                // The port is the connector's business; lookup_host needs one.
                None => tokio::net::lookup_host((name.as_str(), 0)).await?.map(|a| a.ip()).collect(),
            };
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|ip| match policy.check(*ip) {
                    Ok(()) => true,
                    Err(why) => {
                        refused.get_or_insert(why);
                        false
                    }
                })
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(why)) => Err(Box::new(why) as Box<dyn std::error::Error + Send + Sync>),
                (true, None) => Err(format!("{name} has no address").into()),
                (false, _) => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

fn lowercase_keys(map: HashMap<String, Vec<IpAddr>>) -> HashMap<String, Vec<IpAddr>> {
    map.into_iter().map(|(k, v)| (k.trim_end_matches('.').to_ascii_lowercase(), v)).collect()
}

/// The SSRF refusal somewhere in `e`'s causes (the resolver's error arrives wrapped).
fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<Refused>() {
            return Some(refused.clone());
        }
        cause = c.source();
    }
    None
}

/// `e` and its causes, for the log and the status report.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;

    use super::*;

    /// What a receiver saw: (path, headers, body) per request.
    type Seen = Arc<Mutex<Vec<(String, HeaderMap, Vec<u8>)>>>;

    /// A receiver on 127.0.0.1 answering every request with `status` (and `location`).
    async fn receiver(status: u16, location: Option<String>) -> (u16, Seen) {
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (record, location) = (record.clone(), location.clone());
                async move {
                    record.lock().unwrap().push((uri.path().to_owned(), headers, body.to_vec()));
                    let mut response = StatusCode::from_u16(status).unwrap().into_response();
                    if let Some(location) = location {
                        response.headers_mut().insert(header::LOCATION, location.parse().unwrap());
                    }
                    response
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (port, seen)
    }

    fn loopback_allowed() -> AddressPolicy {
        AddressPolicy { allow_all: false, allowed: vec!["127.0.0.1/32".parse().unwrap()] }
    }

    fn poster(policy: AddressPolicy, overrides: &[(&str, &str)]) -> Poster {
        let overrides = overrides.iter().map(|(name, ip)| ((*name).to_owned(), vec![ip.parse().unwrap()])).collect();
        Poster::new(policy, overrides, Duration::from_secs(5)).unwrap()
    }

    fn post_to(url: String) -> Post {
        Post { url, body: br#"{"ok":true}"#.to_vec(), ..Post::default() }
    }

    #[tokio::test]
    async fn an_allowed_endpoint_gets_the_body_headers_and_basic_auth() {
        let (port, seen) = receiver(204, None).await;
        let post = Post {
            headers: vec![("X-Customer".into(), "acme".into())],
            basic_auth: Some(("hook".into(), "s3cret".into())),
            ..post_to(format!("http://127.0.0.1:{port}/events"))
        };
        assert_eq!(poster(loopback_allowed(), &[]).post(&post).await.unwrap(), 204);
        let seen = seen.lock().unwrap();
        let (path, headers, body) = &seen[0];
        assert_eq!(path, "/events");
        assert_eq!(body, br#"{"ok":true}"#);
        assert_eq!(headers["x-customer"], "acme");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["authorization"], "Basic aG9vazpzM2NyZXQ="); // hook:s3cret
    }

    #[tokio::test]
    async fn literal_special_purpose_addresses_are_refused_before_connecting() {
        let (port, seen) = receiver(200, None).await;
        let poster = poster(AddressPolicy::default(), &[]);
        for url in [
            format!("http://127.0.0.1:{port}/"),
            "http://10.0.0.1/".to_owned(),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            format!("http://[::1]:{port}/"),
        ] {
            let error = poster.post(&post_to(url.clone())).await.expect_err(&url);
            assert!(matches!(error, PostError::Refused(_)), "{url}: {error}");
        }
        assert!(seen.lock().unwrap().is_empty(), "nothing may reach the receiver");
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution_and_connect_to_the_checked_address() {
        let (port, seen) = receiver(200, None).await;
        // localhost resolves (system resolver) to loopback only: refused.
        let strict = poster(AddressPolicy::default(), &[("private.test", "10.1.2.3")]);
        let error = strict.post(&post_to(format!("http://localhost:{port}/"))).await.unwrap_err();
        assert!(matches!(error, PostError::Refused(_)), "{error}");
        // A name the override map gives a private address: refused.
        let error = strict.post(&post_to("http://private.test/".into())).await.unwrap_err();
        assert!(matches!(error, PostError::Refused(ref r) if r.address.to_string() == "10.1.2.3"), "{error}");
        assert!(seen.lock().unwrap().is_empty());
        // An allowed address from the override map: the connection goes there.
        let allowed = poster(loopback_allowed(), &[("Hooks.Test", "127.0.0.1")]);
        assert_eq!(allowed.post(&post_to(format!("http://hooks.test:{port}/x"))).await.unwrap(), 200);
        assert_eq!(seen.lock().unwrap()[0].0, "/x");
    }

    #[tokio::test]
    async fn redirects_are_answers_not_followed() {
        let (target_port, target_seen) = receiver(200, None).await;
        let (port, _) = receiver(302, Some(format!("http://127.0.0.1:{target_port}/internal"))).await;
        let status = poster(loopback_allowed(), &[]).post(&post_to(format!("http://127.0.0.1:{port}/"))).await;
        assert_eq!(status.unwrap(), 302);
        assert!(target_seen.lock().unwrap().is_empty(), "the redirect was followed");
    }

    #[tokio::test]
    async fn an_endpoint_that_is_down_is_unreachable_not_refused() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let error = poster(loopback_allowed(), &[]).post(&post_to(format!("http://127.0.0.1:{port}/"))).await;
        assert!(matches!(error, Err(PostError::Unreachable(_))), "{error:?}");
    }

    #[tokio::test]
    async fn an_endpoint_that_answers_too_late_is_unreachable() {
        // Accepts the connection and reads the request, but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let overrides = HashMap::new();
        let slow = Poster::new(loopback_allowed(), overrides, Duration::from_millis(300)).unwrap();
        let started = std::time::Instant::now();
        let error = slow.post(&post_to(format!("http://127.0.0.1:{port}/"))).await;
        assert!(matches!(error, Err(PostError::Unreachable(_))), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "the timeout ends the try: {:?}", started.elapsed());
    }
}
