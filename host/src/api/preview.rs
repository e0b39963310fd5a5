//! `GET /preview/…`: the browser encryption preview (`web/preview/`, built with the
//! jco-transpiled `library` component by `cargo xtask build-web` and embedded in the binary).
//!
//! Everything the page does happens in the browser: files are sealed and requests validated
//! by the component running there. The Content-Security-Policy holds the page to that:
//! scripts and styles only from this origin (WebAssembly compilation allowed), and
//! `connect-src 'none'`, so no script can send what a person dropped onto the page anywhere
//! (no fetch, XHR, WebSocket or beacon); forms cannot be submitted, and the page cannot
//! be framed.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

include!(concat!(env!("OUT_DIR"), "/preview_assets.rs"));

/// The policy of every preview response (see the module documentation).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'none'; font-src 'self'; \
     form-action 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// `/preview` → `/preview/` (relative asset paths resolve under the directory).
pub(crate) async fn redirect() -> Redirect {
    Redirect::permanent("/preview/")
}

/// `/preview/`: the page.
pub(crate) async fn index() -> Response {
    asset("index.html")
}

/// `/preview/{*path}`: one of the page's files.
pub(crate) async fn file(Path(path): Path<String>) -> Response {
    asset(&path)
}

fn asset(path: &str) -> Response {
    if PREVIEW_ASSETS.is_empty() {
        return super::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "PREVIEW_NOT_BUILT",
            "this server was built without the preview page: run `cargo xtask build-web` (needs Node.js), then rebuild",
        );
    }
    let Some((_, bytes)) = PREVIEW_ASSETS.iter().find(|(name, _)| *name == path) else {
        return super::error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such file in the preview");
    };
    let mut response = (StatusCode::OK, *bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The embedded files change only with the binary.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_have_types_and_the_policy_forbids_connections() {
        assert_eq!(content_type("sealmail/sealmail.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert!(CONTENT_SECURITY_POLICY.contains("connect-src 'none'"));
        assert!(CONTENT_SECURITY_POLICY.contains("'wasm-unsafe-eval'"));
    }
}
