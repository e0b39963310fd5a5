//! `sealmail bounce --config FILE [--recipient ADDRESS] < message`: records a DSN that an MTA
//! delivers to a program (Postfix `pipe`, Exim's `pipe` transport) instead of handing it to
//! the listener of `[bounces] listen`. The exit status follows `sysexits.h`, which such MTAs
//! read: 0 done (also for a DSN about an unknown message: nothing to retry), 65 (EX_DATAERR)
//! the message is no DSN, 67 (EX_NOUSER) it was not sent to a VERP address of ours, 75
//! (EX_TEMPFAIL) the configuration or the store failed — the MTA keeps the DSN and retries.
//!
//! A running server picks up the late-bounce events at its next callback poll.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use sealmail_bounces::{self as bounces, RecordError, Verp};
use sealmail_workflow::late_bounce::LateBounces;
use tokio::io::AsyncReadExt;

use super::serve::ConfigArgs;

/// sysexits.h: the input data was incorrect.
const EX_DATAERR: u8 = 65;
/// sysexits.h: the addressee is unknown.
const EX_NOUSER: u8 = 67;
/// sysexits.h: a temporary failure; the sender should retry.
const EX_TEMPFAIL: u8 = 75;

/// Headers that may carry the address the DSN was delivered to, best first: Postfix `pipe`
/// with flag `D` adds `Delivered-To`, with `O` `X-Original-To`; Exim adds `Envelope-To`; a
/// DSN's own `To` is the envelope sender it answers (RFC 3464 §2: DSNs go to the MAIL FROM).
const RECIPIENT_HEADERS: [&str; 4] = ["Delivered-To", "X-Original-To", "Envelope-To", "To"];

/// `sealmail bounce`.
#[derive(Args)]
pub struct BounceArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The VERP address the DSN was delivered to (Postfix `pipe`: `${original_recipient}`).
    /// Default: the first VERP address in the message's Delivered-To, X-Original-To,
    /// Envelope-To or To header.
    #[arg(long, value_name = "ADDRESS")]
    recipient: Option<String>,
}

/// Runs `sealmail bounce`.
pub async fn run(args: BounceArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(config) => config,
        Err(e) => return Ok(fail(EX_TEMPFAIL, &format!("{e:#}"))),
    };
    super::serve::init_logging(config.log_format);
    let verp = match config.bounces.verp() {
        Ok(Some(verp)) => verp,
        Ok(None) => return Ok(fail(EX_TEMPFAIL, "[bounces] verp_domain is not set in the configuration")),
        Err(e) => return Ok(fail(EX_TEMPFAIL, &e.to_string())),
    };
    let limit = config.bounces.max_message_bytes;
    let mut message = Vec::new();
    if let Err(e) = tokio::io::stdin().take(limit.saturating_add(1)).read_to_end(&mut message).await {
        return Ok(fail(EX_TEMPFAIL, &format!("cannot read the message from stdin: {e}")));
    }
    if message.len() as u64 > limit {
        return Ok(fail(EX_DATAERR, &format!("the message exceeds [bounces] max_message_bytes ({limit})")));
    }
    let token = match &args.recipient {
        Some(address) => verp.token(address),
        None => token_from_headers(&verp, &message),
    };
    let Some(token) = token else {
        return Ok(fail(EX_NOUSER, &format!("not sent to a VERP address bounce+<token>@{}", verp.domain())));
    };
    // The workflow decides what the bounce changes, as in the server.
    let recorder = match recorder(&config).await {
        Ok(recorder) => recorder,
        Err(e) => return Ok(fail(EX_TEMPFAIL, &format!("{e:#}"))),
    };
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    match bounces::record_dsn(&recorder, &token, &message, now_ms).await {
        Ok(results) => {
            for r in results {
                let outcome = r.outcome.map_or_else(|| "logged only".to_owned(), |o| format!("{o:?}"));
                println!("{}: {}: {outcome}", r.address, r.reported);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ RecordError::NotADsn(_)) => Ok(fail(EX_DATAERR, &e.to_string())),
        Err(e) => Ok(fail(EX_TEMPFAIL, &e.to_string())),
    }
}

/// The late-bounce recorder of `config`: its store and its workflow component.
async fn recorder(config: &crate::config::Config) -> anyhow::Result<LateBounces> {
    let store = crate::node::open_store(config).await?.store;
    let (sandbox, _, _) = crate::node::sandbox(config).await?;
    let (service, services) = crate::node::workflow(config, &sandbox, store)?;
    Ok(LateBounces::new(service, services, config.suppression.clone()))
}

/// Prints `why` and returns `code`.
fn fail(code: u8, why: &str) -> ExitCode {
    eprintln!("sealmail bounce: {why}");
    ExitCode::from(code)
}

/// The token of the first VERP address in the [`RECIPIENT_HEADERS`] of `message`.
fn token_from_headers(verp: &Verp, message: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse_headers(message)?;
    RECIPIENT_HEADERS.iter().find_map(|wanted| {
        parsed.headers_raw().filter(|(name, _)| name.eq_ignore_ascii_case(wanted)).find_map(|(_, value)| {
            value.split([',', ' ', '\t', '\r', '\n', '<', '>']).find_map(|word| verp.token(word))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verp_address_is_found_in_the_delivery_headers() {
        let verp = Verp::new("bounces.example.com").unwrap();
        let message = b"Delivered-To: postmaster@bounces.example.com\r\n\
                        To: \"Sender\" <bounce+abc123@Bounces.example.com>,\r\n other@x.example\r\n\r\nbody\r\n";
        assert_eq!(token_from_headers(&verp, message).as_deref(), Some("abc123"));
        assert_eq!(token_from_headers(&verp, b"To: someone@else.example\r\n\r\n"), None);
    }
}
