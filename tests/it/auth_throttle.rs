//! The failed-authentication throttle from outside: the real `sealmail`
//! binary with a short window, and clients on several loopback addresses (127.0.0.1,
//! 127.0.0.2, …: Linux routes all of 127/8 to the loopback interface, so each is a distinct
//! TCP peer to the server).
//!
//! What is proven: after `failed_auths_per_client` wrong secrets from one address its
//! requests with credentials get `429 AUTH_THROTTLED` with `Retry-After` — the right secret
//! too, and another account's — while requests without credentials are untouched; other
//! addresses, with either account, are not affected; after `failed_auths_per_account`
//! failures for one name from several addresses that name is throttled everywhere, and the
//! other account is not; a name that does not exist is throttled like one that does (no
//! existence oracle); once the window has passed everything works again; and the OpenAPI
//! document lists the `429` for every operation with credentials.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use sealmail_test_support::{ACCOUNT, OTHER_ACCOUNT, Sealmail};
use serde_json::Value;

const PER_CLIENT: u32 = 3;
const PER_ACCOUNT: u32 = 5;
/// Short, so the test sees the throttle end; long enough that each phase runs inside one
/// window on a busy machine (a phase is a handful of local requests).
const WINDOW_SECS: u64 = 4;

/// A client whose connections come from `127.0.0.<n>`.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// `GET /rest/v1/suppressions` as (`name`, `secret`): status, `Retry-After`, JSON body.
async fn login(client: &reqwest::Client, server: &Sealmail, name: &str, secret: &str) -> (u16, Option<u64>, Value) {
    let response = client
        .get(format!("{}/rest/v1/suppressions", server.base_url))
        .basic_auth(name, Some(secret))
        .send()
        .await
        .expect("GET /rest/v1/suppressions");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

/// Asserts a `429 AUTH_THROTTLED` with a `Retry-After` within the window; returns it.
fn assert_throttled(answer: &(u16, Option<u64>, Value), what: &str) -> u64 {
    let (status, retry_after, body) = answer;
    assert_eq!(*status, 429, "{what}: {body}");
    assert_eq!(body["code"], "AUTH_THROTTLED", "{what}: {body}");
    let secs = retry_after.unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!((1..=WINDOW_SECS).contains(&secs), "{what}: Retry-After {secs}");
    secs
}

#[tokio::test]
async fn failed_logins_are_throttled_per_client_and_per_account_for_a_window() {
    let config = format!(
        "[limits]\nfailed_auths_per_client = {PER_CLIENT}\nfailed_auths_per_account = {PER_ACCOUNT}\n\
         failed_auth_window_secs = {WINDOW_SECS}\n"
    );
    let server = Sealmail::start(&config).await;
    let (acme, other) = (ACCOUNT, OTHER_ACCOUNT);
    let first = client_from(1);

    // 1. One client: PER_CLIENT wrong secrets are 401s, then it is throttled for everything
    //    that carries credentials.
    for i in 0..PER_CLIENT {
        let (status, _, body) = login(&first, &server, acme.0, "wrong-secret").await;
        assert_eq!(status, 401, "failure {i}: {body}");
    }
    let throttled_at = Instant::now();
    let retry_after = assert_throttled(&login(&first, &server, acme.0, acme.1).await, "the right secret");
    assert_throttled(&login(&first, &server, acme.0, "wrong-secret").await, "a wrong secret");
    assert_throttled(&login(&first, &server, other.0, other.1).await, "another account from that client");
    let health = first.get(format!("{}/healthz", server.base_url)).send().await.expect("GET /healthz");
    assert_eq!(health.status().as_u16(), 200, "a request without credentials is not throttled");
    let anonymous = first.get(format!("{}/rest/v1/suppressions", server.base_url)).send().await.expect("GET");
    assert_eq!(anonymous.status().as_u16(), 401, "without credentials: the usual challenge");

    // 2. Another client is not affected, with either account (acme's name has 3 failures,
    //    under its own limit of 5).
    let second = client_from(2);
    assert_eq!(login(&second, &server, acme.0, acme.1).await.0, 200, "acme from another address");
    assert_eq!(login(&second, &server, other.0, other.1).await.0, 200, "other from another address");

    // 3. One name attacked from several addresses (each under its client limit): the name
    //    is throttled from anywhere, the other account is not; an unknown name alike.
    for (n, name) in [(3, other.0), (3, other.0), (4, other.0), (4, other.0), (5, other.0)] {
        let (status, _, body) = login(&client_from(n), &server, name, "wrong-secret").await;
        assert_eq!(status, 401, "{name} from 127.0.0.{n}: {body}");
    }
    let sixth = client_from(6);
    assert_throttled(&login(&sixth, &server, other.0, other.1).await, "the attacked account from a fresh address");
    assert_eq!(login(&sixth, &server, acme.0, acme.1).await.0, 200, "acme is not the attacked account");
    for (n, name) in [(7, "ghost"), (7, "ghost"), (8, "ghost"), (8, "ghost"), (9, "ghost")] {
        assert_eq!(login(&client_from(n), &server, name, "wrong-secret").await.0, 401, "{name} from 127.0.0.{n}");
    }
    assert_throttled(&login(&sixth, &server, "ghost", "x").await, "an unknown name, like a known one");

    // 4. After the window, the first client's right secret works again (and not before the
    //    Retry-After it was given, less a second for rounding); so does the attacked account.
    let earliest = throttled_at + Duration::from_secs(retry_after.saturating_sub(1));
    let ended = wait_until_accepted(&first, &server, acme).await;
    assert!(ended >= earliest, "the throttle ended before its Retry-After");
    wait_until_accepted(&sixth, &server, other).await;

    // 5. The API's document says so for every operation with credentials.
    let doc: Value = first.get(format!("{}/openapi.json", server.base_url)).send().await.unwrap().json().await.unwrap();
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                secured += 1;
                let documented = op["responses"]["429"]["description"].as_str().unwrap_or_default();
                assert!(documented.contains("AUTH_THROTTLED"), "{method} {path}: 429 is {documented:?}");
            }
        }
    }
    assert!(secured >= 4, "{secured} operations with credentials");
}

/// Polls a login as `account` until it is accepted, each refusal being the throttle's;
/// when it was.
async fn wait_until_accepted(client: &reqwest::Client, server: &Sealmail, account: (&str, &str)) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(WINDOW_SECS + 10);
    loop {
        let answer = login(client, server, account.0, account.1).await;
        if answer.0 == 200 {
            return Instant::now();
        }
        assert_throttled(&answer, "while waiting for the window to pass");
        assert!(Instant::now() < deadline, "{} still throttled long after the window", account.0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
