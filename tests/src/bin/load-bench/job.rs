//! The input: the request body of job `i`, one 100 KiB flagged attachment whose first bytes
//! carry the job number, so every job has different attachment bytes.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::json;

/// The flagged attachment: 100 KiB, incompressible (a PDF is stored, not deflated, in the ZIP).
pub const ATTACHMENT_LEN: usize = 100 * 1024;

/// Seed of the attachment bytes; each job changes its first bytes (see [`JobBody`]).
pub const ATTACHMENT_SEED: u64 = 20_260_301;

/// Messages per job: one original to both recipients, then one password mail per recipient.
pub const MESSAGES_PER_JOB: u64 = 3;

/// The request body of job `i`: a JobRequest with the attachment's base64 split around its
/// first 12 bytes, which carry the job number. Every job thus has different attachment bytes
/// (clamd caches the verdicts of files it has seen; real traffic does not repeat files), and
/// building a body is one concatenation. 12 bytes are 16 base64 characters without padding,
/// so the base64 of the rest is the same for every job.
pub struct JobBody {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
}

/// Bytes of the attachment that differ per job (a multiple of 3: whole base64 quanta).
pub const UNIQUE_PREFIX: usize = 12;

impl JobBody {
    pub fn new() -> JobBody {
        let mut rest = vec![0u8; ATTACHMENT_LEN - UNIQUE_PREFIX];
        ChaCha20Rng::seed_from_u64(ATTACHMENT_SEED).fill_bytes(&mut rest);
        let placeholder = "@@ATTACHMENT@@";
        let request = json!({
            "job": {
                "features": {
                    "antivirus": { "active": true },
                    "secureDocument": { "active": true, "filename": "statement", "password": { "type": "very_high" } }
                }
            },
            "mail": { "from": { "email": "Billing <billing@sender.example>" } },
            "subject": { "content": "Your monthly statement" },
            "body": { "contentType": "text/plain", "content": "Your statement is attached; the password follows in a separate mail." },
            "attachments": [{
                "name": "statement.pdf",
                "contentType": "application/pdf",
                "content": placeholder,
                "secureDocument": true
            }],
            "recipients": [{ "mail": { "to": [
                { "email": "Max Mustermann <max@recipient.example>" },
                { "email": "Erika Mustermann <erika@recipient.example>" }
            ] } }]
        })
        .to_string();
        let (head, tail) = request.split_once(placeholder).expect("the placeholder is in the request");
        let mut tail_bytes = STANDARD.encode(&rest).into_bytes();
        tail_bytes.extend_from_slice(tail.as_bytes());
        JobBody { head: head.as_bytes().to_vec(), tail: tail_bytes }
    }

    pub fn body(&self, i: u64) -> Vec<u8> {
        let prefix = format!("{i:0width$}", width = UNIQUE_PREFIX);
        let mut body = Vec::with_capacity(self.head.len() + 16 + self.tail.len());
        body.extend_from_slice(&self.head);
        body.extend_from_slice(STANDARD.encode(&prefix.as_bytes()[..UNIQUE_PREFIX]).as_bytes());
        body.extend_from_slice(&self.tail);
        body
    }
}

/// Job numbers never repeat within a run (they make the attachments unique).
pub static NEXT_JOB: AtomicU64 = AtomicU64::new(1);

pub fn next_body(bodies: &JobBody) -> Vec<u8> {
    bodies.body(NEXT_JOB.fetch_add(1, Ordering::Relaxed))
}
