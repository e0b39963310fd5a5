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

use super::openapi::responses;
use crate::error::{ApiError, ErrorCode};

include!(concat!(env!("OUT_DIR"), "/preview_assets.rs"));

/// The policy of every preview response (see the module documentation).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'none'; font-src 'self'; \
     form-action 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// `/preview` → `/preview/` (relative asset paths resolve under the directory).
#[utoipa::path(
    get,
    path = "/preview",
    operation_id = "previewRedirect",
    tag = "preview",
    summary = "Redirect to the preview page",
    description = "A permanent redirect to `/preview/`, so that the page's relative asset paths \
        resolve under the directory.",
    responses(
        (status = 308, description = "To `/preview/`.",
            headers(("Location" = String, description = "`/preview/`"))),
    )
)]
pub(crate) async fn redirect() -> Redirect {
    Redirect::permanent("/preview/")
}

/// `/preview/`: the page.
#[utoipa::path(
    get,
    path = "/preview/",
    operation_id = "previewPage",
    tag = "preview",
    summary = "The browser encryption preview",
    description = "The page: pick files and seal them into an AES-256 ZIP in the browser, or paste \
        a JobRequest and see its validation and what would be sent. It runs the `library` \
        component in the browser; its Content-Security-Policy has `connect-src 'none'`, so no \
        script on it can send anything anywhere.",
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String,
            headers(("Content-Security-Policy" = String, description = "Scripts and styles from this \
                origin only (WebAssembly compilation allowed), `connect-src 'none'`, no forms, no framing."))),
        (status = 503, description = "`PREVIEW_NOT_BUILT`: this server was built without the page \
            (`cargo xtask build-web` builds it).", body = responses::ErrorBody),
    )
)]
pub(crate) async fn index() -> Result<Response, ApiError> {
    asset("index.html")
}

/// `/preview/{*path}`: one of the page's files.
#[utoipa::path(
    get,
    path = "/preview/{*path}",
    operation_id = "previewFile",
    tag = "preview",
    summary = "A file of the preview page",
    description = "The page's scripts, styles, the transpiled component (`.wasm`) and its other \
        files, each with its media type and the page's Content-Security-Policy.",
    params(
        ("path" = String, Path, description = "The file's path under `/preview/` (may contain `/`), \
            e.g. `index.html` or `sealmail/sealmail.js`."),
    ),
    responses(
        (status = 200, description = "The file.",
            content(
                (String = "text/html"),
                (String = "text/javascript"),
                (String = "text/css"),
                ("application/wasm"),
                (String = "image/svg+xml"),
                ("image/png"),
                (Object = "application/json"),
                ("application/octet-stream"),
            )),
        (status = 404, description = "`NOT_FOUND`: no such file in the preview.", body = responses::ErrorBody),
        (status = 503, description = "`PREVIEW_NOT_BUILT`: this server was built without the page.",
            body = responses::ErrorBody),
    )
)]
pub(crate) async fn file(Path(path): Path<String>) -> Result<Response, ApiError> {
    asset(&path)
}

fn asset(path: &str) -> Result<Response, ApiError> {
    if PREVIEW_ASSETS.is_empty() {
        return Err(ApiError::new(
            ErrorCode::PreviewNotBuilt,
            "this server was built without the preview page: run `cargo xtask build-web` (needs Node.js), then rebuild",
        ));
    }
    let Some((_, bytes)) = PREVIEW_ASSETS.iter().find(|(name, _)| *name == path) else {
        return Err(ApiError::not_found("no such file in the preview"));
    };
    let mut response = (StatusCode::OK, *bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The embedded files change only with the binary.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
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
