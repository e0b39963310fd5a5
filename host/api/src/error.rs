//! The API's error answers: [`ApiError`], what every handler, the credentials extractor
//! (`auth`), the failed-authentication throttle, the connection's `408` and the `404` fallback
//! answer errors with; and [`ErrorCode`], the one list of the stable codes clients branch on,
//! each with its status.
//!
//! The body is [`ErrorBody`] (`{"code","message"}`), for a `400` [`BadRequest`] (with the
//! problems). A 4xx message says what was wrong; a 5xx message is generic: the cause is
//! logged, never sent (docs/service.md#the-api).

use std::borrow::Cow;
use std::fmt;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Serialize, Serializer};

use crate::openapi::responses::{BadRequest, ErrorBody, Problem};

/// Seconds a client is asked to wait after a `503` (queue full, store unavailable): a queue
/// drains and a store fails over within seconds, and clients should neither hammer nor stall.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The challenge of every `401` (RFC 7617 §2: the realm, and that credentials are UTF-8).
pub const CHALLENGE: &str = "Basic realm=\"sealmail\", charset=\"UTF-8\"";

/// Defines [`ErrorCode`] from one table: each code's variant, name and status.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $status:ident;)+) => {
        /// The stable codes of error answers, each with its status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &[ErrorCode] = &[$(Self::$variant),+];

            /// The code as clients see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// The status it is answered with.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)+
                }
            }
        }
    };
}

error_codes! {
    /// Credentials missing or wrong (with `WWW-Authenticate`).
    Unauthorized = "UNAUTHORIZED", UNAUTHORIZED;
    /// Too many failed authentications (`throttle`).
    AuthThrottled = "AUTH_THROTTLED", TOO_MANY_REQUESTS;
    /// No such resource, job, file or suppression entry.
    NotFound = "NOT_FOUND", NOT_FOUND;
    /// The request body arrived too slowly (`slow`).
    RequestTimeout = "REQUEST_TIMEOUT", REQUEST_TIMEOUT;
    /// The body is not `application/json` (UTF-8).
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", UNSUPPORTED_MEDIA_TYPE;
    /// The body exceeds `max_request_bytes`.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", PAYLOAD_TOO_LARGE;
    /// The JobRequest breaks rules (with `problems`).
    InvalidRequest = "INVALID_REQUEST", BAD_REQUEST;
    /// The `Idempotency-Key` header is unusable.
    InvalidIdempotencyKey = "INVALID_IDEMPOTENCY_KEY", BAD_REQUEST;
    /// The `Idempotency-Key` was used with another body.
    IdempotencyConflict = "IDEMPOTENCY_CONFLICT", CONFLICT;
    /// The job is not finished, so it cannot be erased.
    JobNotFinished = "JOB_NOT_FINISHED", CONFLICT;
    /// The account's recipients per hour are used up.
    LimitExceeded = "LIMIT_EXCEEDED", TOO_MANY_REQUESTS;
    /// Too many jobs in progress.
    QueueFull = "QUEUE_FULL", SERVICE_UNAVAILABLE;
    /// The store does not answer.
    StoreUnavailable = "STORE_UNAVAILABLE", SERVICE_UNAVAILABLE;
    /// The server was built without the preview page.
    PreviewNotBuilt = "PREVIEW_NOT_BUILT", SERVICE_UNAVAILABLE;
    /// The validator failed in its sandbox.
    ValidationFailed = "VALIDATION_FAILED", INTERNAL_SERVER_ERROR;
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a 5xx happened: logged when it is answered, never sent.
#[derive(Debug)]
struct Cause {
    /// What the server was doing, e.g. `cannot store a job`.
    context: &'static str,
    /// The underlying error, for the log.
    error: String,
}

/// An error answer: its code (and so its status), its message, and what some codes carry.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: Cow<'static, str>,
    /// `INVALID_REQUEST`'s problems.
    problems: Option<Vec<Problem>>,
    /// `Retry-After`, seconds.
    retry_after: Option<u64>,
    cause: Option<Cause>,
}

impl ApiError {
    /// An answer with `code` and `message` (for a 5xx, a generic one: see [`ApiError::failed`]).
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { code, message: message.into(), problems: None, retry_after: None, cause: None }
    }

    /// A `404 NOT_FOUND`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// A `401 UNAUTHORIZED`; its `WWW-Authenticate` challenge is added when it is answered.
    pub fn unauthorized(message: &'static str) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// A `400 INVALID_REQUEST` listing `problems`, all of them.
    pub fn invalid_request(problems: Vec<Problem>) -> Self {
        let message = format!("the JobRequest has {} problem(s); each names its JSON path", problems.len());
        Self { problems: Some(problems), ..Self::new(ErrorCode::InvalidRequest, message) }
    }

    /// A 5xx: `message` is all the client learns; `error` is logged with `context` when the
    /// answer is sent.
    pub fn failed(code: ErrorCode, message: &'static str, context: &'static str, error: impl fmt::Display) -> Self {
        Self { cause: Some(Cause { context, error: error.to_string() }), ..Self::new(code, message) }
    }

    /// A `503 STORE_UNAVAILABLE` with `Retry-After`; `error` is logged with `context`.
    pub fn store_unavailable(message: &'static str, context: &'static str, error: impl fmt::Display) -> Self {
        Self::failed(ErrorCode::StoreUnavailable, message, context, error).retry_after(RETRY_AFTER_SECS)
    }

    /// With `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(code = %self.code, error = %cause.error, "{}", cause.context);
        }
        let (code, message) = (self.code, self.message.into_owned());
        let status = code.status();
        let mut response = if status == StatusCode::BAD_REQUEST {
            (status, Json(BadRequest { code, message, problems: self.problems })).into_response()
        } else {
            (status, Json(ErrorBody { code, message })).into_response()
        };
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if code == ErrorCode::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[test]
    fn every_code_an_operation_can_answer_is_named_in_the_document() {
        let document = crate::routes::document().to_string();
        for code in ErrorCode::ALL {
            // The accept loop's 408 belongs to no operation.
            if *code != ErrorCode::RequestTimeout {
                assert!(document.contains(&format!("`{code}`")), "{code} is not documented");
            }
        }
    }

    async fn body(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        serde_json::from_slice(&bytes).expect("JSON")
    }

    #[tokio::test]
    async fn an_error_is_its_code_its_message_and_its_headers() {
        let r = ApiError::unauthorized("wrong account name or secret").into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], CHALLENGE);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(
            body(r).await,
            serde_json::json!({ "code": "UNAUTHORIZED", "message": "wrong account name or secret" })
        );

        let r = ApiError::new(ErrorCode::LimitExceeded, "later").retry_after(42).into_response();
        assert_eq!(
            (r.status(), &r.headers()[header::RETRY_AFTER]),
            (StatusCode::TOO_MANY_REQUESTS, &"42".parse().unwrap())
        );
    }

    #[tokio::test]
    async fn a_5xx_body_does_not_carry_its_cause() {
        let r = ApiError::store_unavailable(
            "the job store is unavailable",
            "cannot read a job",
            "disk I/O error at /secret",
        )
        .into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
        let text = body(r).await.to_string();
        assert!(!text.contains("secret") && text.contains("STORE_UNAVAILABLE"), "{text}");
    }

    #[tokio::test]
    async fn a_400_lists_its_problems_and_an_idempotency_key_400_has_none() {
        let r = ApiError::invalid_request(Vec::new()).into_response();
        assert_eq!(body(r).await["problems"], serde_json::json!([]));
        let r = ApiError::new(ErrorCode::InvalidIdempotencyKey, "no").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(r).await, serde_json::json!({ "code": "INVALID_IDEMPOTENCY_KEY", "message": "no" }));
    }
}
