//! The probe: one job through an in-process SMTP server, to learn the sizes of the original
//! and the password mail the raw rate is measured with.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use sealmail_test_support::{SmtpServer, SmtpServerConfig};

use crate::job::{JobBody, MESSAGES_PER_JOB, next_body};
use crate::server::{Launch, Server};

pub struct Sizes {
    /// The original as sent (RFC 5322 bytes), with the sealed archive.
    pub original: usize,
    /// One password mail.
    pub password: usize,
}

/// One job through the harness' in-process SMTP server, which keeps what it receives: the
/// sizes the raw rate is measured with, and a check that a job really yields one original
/// to both recipients and one password mail to each.
pub async fn probe(launch: &Launch, bodies: &JobBody) -> Result<Sizes> {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Server::start(launch, smtp.port(), 4, None).await?;
    let status = server.submit(next_body(bodies)).await.map_err(anyhow::Error::msg)?;
    if status != 202 {
        bail!("the probe job was refused with {status}:\n{}", server.log());
    }
    let received = smtp.wait_for(MESSAGES_PER_JOB as usize, Duration::from_secs(60)).await;
    if received.len() != MESSAGES_PER_JOB as usize {
        bail!("the probe job produced {} messages, expected {MESSAGES_PER_JOB}:\n{}", received.len(), server.log());
    }
    let original = received.iter().find(|m| m.rcpt_to.len() == 2).context("no original to both recipients")?;
    let passwords: Vec<_> = received.iter().filter(|m| m.rcpt_to.len() == 1).collect();
    if passwords.len() != 2 {
        bail!("expected two password mails with one recipient each, got {}", passwords.len());
    }
    Ok(Sizes { original: original.data.len(), password: passwords.iter().map(|m| m.data.len()).max().unwrap_or(0) })
}
