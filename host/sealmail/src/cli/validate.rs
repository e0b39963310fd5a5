//! `sealmail validate JOB.json`: a readable summary (exit 0) or one line per problem,
//! `path: message` (exit 1); `--json` prints the machine-readable form instead.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sealmail_sandbox::Library;
use sealmail_sandbox::validation_json::{self, strength_name};

#[derive(Args)]
pub struct ValidateArgs {
    /// The JobRequest file (`-` for standard input).
    job: PathBuf,
    /// Print the result as JSON (`{"valid":…, "summary"|"problems":…}`).
    #[arg(long)]
    json: bool,
}

pub async fn run(library: &Library, args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let bytes = if args.job.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).context("cannot read standard input")?;
        b
    } else {
        std::fs::read(&args.job).with_context(|| format!("cannot read {}", args.job.display()))?
    };
    let result = library.validate(&bytes, None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&validation_json::outcome(&result))?);
        return Ok(if result.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    match result {
        Ok(s) => {
            println!("valid: {} message(s) to {} envelope recipient(s)", s.messages.len(), s.envelope_recipient_count);
            println!("  from:    {}", s.header_from.address);
            println!("  subject: {}", s.subject);
            for m in &s.messages {
                let reference = m.reference.as_deref().map(|r| format!(" (reference {r})")).unwrap_or_default();
                println!("  message {}: {}{reference}", m.block + 1, m.envelope_recipients.join(", "));
            }
            for a in &s.attachments {
                println!(
                    "  attachment {}: {} ({}, {} bytes){}",
                    a.index,
                    a.name,
                    a.content_type,
                    a.size,
                    if a.sealed { ", sealed" } else { "" }
                );
            }
            if let Some(d) = &s.secure_document {
                println!(
                    "  secure document: {} ({} password), password mail \"{}\"",
                    d.archive_name,
                    strength_name(d.strength),
                    d.password_mail_subject
                );
            }
            for w in &s.warnings {
                println!("warning: {}: {}", display_path(&w.path), w.message);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for p in &problems {
                println!("{}: {}", display_path(&p.path), p.message);
            }
            eprintln!("invalid: {} problem(s)", problems.len());
            Ok(ExitCode::from(1))
        }
    }
}

/// The whole document's pointer is `""` (RFC 6901; `/` would mean the key ""), printed as
/// `(request)` so the line still reads.
fn display_path(p: &str) -> &str {
    if p.is_empty() { "(request)" } else { p }
}
