//! The routes of the browser encryption preview, as documented operations. Each delegates to
//! its handler in [`super::preview`], which alone decides what is served (files, types, the
//! Content-Security-Policy); this module only gives the routes their OpenAPI descriptions.

use axum::extract::Path;
use axum::response::{Redirect, Response};

use super::openapi::responses;
use super::preview;

/// `GET /preview`.
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
    preview::redirect().await
}

/// `GET /preview/`.
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
pub(crate) async fn index() -> Response {
    preview::index().await
}

/// `GET /preview/{*path}`.
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
pub(crate) async fn file(Path(path): Path<String>) -> Response {
    preview::file(Path(path)).await
}
