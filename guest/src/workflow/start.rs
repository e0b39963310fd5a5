//! `start-job`: a stored request becomes queued messages (docs/secure-documents.md).
//!
//! Order matters: attachments are scanned *before* anything is sealed (docs/service.md#virus-scanning — after
//! encryption no scanner can look inside), and no event is emitted before the scan has an
//! answer, so a job that must wait for a scanner leaves nothing behind to repeat.
//!
//! Recipients on the account's suppression list (the host passes them in the job context)
//! are dropped first, in Retarus' `PRE_PROCESS` phase: they get their own final event, no
//! processing events, and are left out of every envelope. Their addresses stay in the
//! message's visible headers — the author wrote them there, and the other recipients see
//! the message as written. A job whose recipients are all suppressed is not even scanned.

use std::borrow::Cow;

use rand::{CryptoRng, RngCore};

use super::secret::HeldSecret;
use super::{
    DeliveryStatus, Event, EventKind, Host, JobContext, MessageKind, OutgoingMessage, PasswordState, Policy, Recipient,
    RecipientUpdate, Role, StartOutcome, Verdict, WorkflowError,
};
use crate::archive::{self, Timestamp};
use crate::mime;
use crate::password;
use crate::request::model::{BodyType, Job, RecipientBlock, Text};
use crate::request::{Limits, validate};
use crate::template::Escape;

/// Validates, scans, seals, renders and queues one message per recipient block.
pub fn start_job<H: Host, R: RngCore + CryptoRng>(
    host: &mut H,
    rng: &mut R,
    ctx: &JobContext,
    request: &[u8],
    limits: &Limits,
    policy: &Policy,
) -> Result<StartOutcome, WorkflowError> {
    let job = validate(request, limits).map_err(WorkflowError::Invalid)?.job;
    let secure = job.secure_document.is_some();
    let live = |address: &str| ctx.suppression(address).is_none();
    let mut anyone = false;
    each_recipient(&job, |_, address| anyone |= live(address));
    if !anyone {
        return Ok(StartOutcome::Dropped(drop_suppressed(host, &job, ctx)));
    }

    // Scan first. Antivirus active: every attachment; otherwise only the flagged ones
    // (the validator already refuses secure documents without antivirus:
    // docs/secure-documents.md#requests-that-are-refused).
    let mut skipped = false;
    for attachment in job.attachments.iter().filter(|a| job.antivirus || a.sealed) {
        match host.scan(&attachment.name, &attachment.content) {
            Verdict::Clean => {}
            Verdict::Skipped => skipped = true,
            Verdict::Infected(found) => {
                let why = format!("attachment {:?}: {found}; the job was discarded", attachment.name);
                return Ok(drop_job(host, &job, ctx, EventKind::VirusDetected, &why));
            }
            Verdict::Unavailable(why) => {
                let now = host.now();
                if now.saturating_sub(ctx.received_ms) >= policy.max_queue_lifetime_ms {
                    let why = format!("no virus scan possible within the queue lifetime ({why})");
                    return Ok(drop_job(host, &job, ctx, EventKind::ProcessingFailed, &why));
                }
                return Ok(StartOutcome::Retry(now + policy.delay(ctx.attempts), why));
            }
        }
    }

    let dropped = drop_suppressed(host, &job, ctx);
    each_recipient(&job, |block, address| {
        if !live(address) {
            return;
        }
        host.emit(event(block, address, EventKind::ProcessingStarted, "processing started"));
        if skipped {
            let why = "no virus scanner is configured; sent unscanned (allow_insecure_no_antivirus)";
            host.emit(event(block, address, EventKind::AntivirusSkipped, why));
        }
    });

    let now = host.now();
    for (index, block) in job.blocks.iter().enumerate() {
        if !block.envelope_recipients().iter().any(|address| live(address)) {
            continue;
        }
        let personal = personalize(&job, block)?;
        let message = original_message(&personal, index as u32, block, ctx, now, rng)?;
        host.enqueue(message);
    }
    each_recipient(&job, |block, address| {
        if !live(address) {
            return;
        }
        let what = if secure { "message rendered, attachments sealed, queued" } else { "message rendered, queued" };
        host.emit(event(block, address, EventKind::ProcessingFinished, what));
    });
    Ok(StartOutcome::Queued(dropped))
}

/// Drops the job's suppressed recipients: PREVIOUSLY_BOUNCED or SUPPRESSED with the list's
/// description, and for a secure job PASSWORD_MAIL/NOT_TRIGGERED (docs/secure-documents.md: exactly one
/// password event per recipient). Returns their final states.
fn drop_suppressed<H: Host>(host: &mut H, job: &Job, ctx: &JobContext) -> Vec<RecipientUpdate> {
    let secure = job.secure_document.is_some();
    let mut updates = Vec::new();
    each_recipient(job, |block, address| {
        let Some(entry) = ctx.suppression(address) else { return };
        let kind = if entry.bounced { EventKind::PreviouslyBounced } else { EventKind::Suppressed };
        host.emit(event(block, address, kind, &entry.description));
        if secure {
            host.emit(event(block, address, EventKind::PasswordMailNotTriggered, "the message was not sent"));
        }
        updates.push(dropped(block, address, secure));
    });
    updates
}

fn dropped(block: u32, address: &str, secure: bool) -> RecipientUpdate {
    RecipientUpdate {
        block,
        address: address.to_owned(),
        status: DeliveryStatus::Dropped,
        password: secure.then_some(PasswordState::NotTriggered),
        reply: None,
        detail: None,
    }
}

/// The job as `block` sees it: with templating, its subject, body and alternative rendered
/// with the block's personalization (the body HTML-escaped when it is HTML); without, the
/// job itself. The validator has checked that every variable a template needs is there.
pub(crate) fn personalize<'j>(job: &'j Job, block: &RecipientBlock) -> Result<Cow<'j, Job>, WorkflowError> {
    let templated = [Some(&job.subject), Some(&job.body.content), job.alternative.as_ref()]
        .into_iter()
        .flatten()
        .any(|t| t.template.is_some());
    if !templated {
        return Ok(Cow::Borrowed(job));
    }
    let vars = |name: &str| block.personalization.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let render = |text: &mut Text, escape: Escape| -> Result<(), WorkflowError> {
        if let Some(template) = text.template.take() {
            text.text = template
                .render(&vars, escape)
                .map_err(|e| WorkflowError::Internal(format!("rendering a template failed: {e}")))?;
        }
        Ok(())
    };
    let mut personal = job.clone();
    render(&mut personal.subject, Escape::None)?;
    let body_escape = match personal.body.content_type {
        BodyType::Html => Escape::Html,
        BodyType::Plain => Escape::None,
    };
    render(&mut personal.body.content, body_escape)?;
    if let Some(alternative) = personal.alternative.as_mut() {
        render(alternative, Escape::None)?;
    }
    Ok(Cow::Owned(personal))
}

/// Renders (and, for a secure job, seals and protects) the message of one block.
fn original_message<R: RngCore + CryptoRng>(
    job: &Job,
    index: u32,
    block: &RecipientBlock,
    ctx: &JobContext,
    now: u64,
    rng: &mut R,
) -> Result<OutgoingMessage, WorkflowError> {
    let token = random_token(rng);
    let message_id = format!("{token}@{}", ctx.message_id_domain);
    let envelope = mime::Envelope { message_id: &message_id, date_unix_ms: now, boundary_seed: &token };

    let (content, held_secret) = match &job.secure_document {
        None => (mime::render_original(job, block, None, &envelope), None),
        Some(settings) => {
            // One archive and one password per message
            // (docs/secure-documents.md#one-archive-and-one-password-per-message).
            let password = password::generate(rng, settings.strength);
            let files: Vec<(&str, &[u8])> =
                job.attachments.iter().filter(|a| a.sealed).map(|a| (a.name.as_str(), a.content.as_slice())).collect();
            let sealed = archive::seal(&settings.archive_name, &files, &password, zip_timestamp(now), &mut *rng)
                .map_err(|e| WorkflowError::Internal(format!("sealing the attachments failed: {e}")))?;
            let archive = mime::SealedArchive { file_name: &sealed.name, bytes: &sealed.bytes };
            let content = mime::render_original(job, block, Some(&archive), &envelope);
            let secret = HeldSecret {
                v: HeldSecret::VERSION,
                password,
                subject: mime::password_mail_subject(&settings.subject_prefix, &job.subject.text),
                from_name: job.header_from.name.clone(),
                from_address: job.header_from.address.clone(),
                archive_name: sealed.name.clone(),
                reverse_path: job.sender.address.clone(),
            };
            (content, Some(secret.to_bytes()))
        }
    };
    let mut recipients = recipients(block);
    recipients.retain(|r| ctx.suppression(&r.address).is_none());
    Ok(OutgoingMessage {
        message_id,
        kind: MessageKind::Original,
        block: index,
        parent: None,
        reverse_path: job.sender.address.clone(),
        recipients,
        content,
        held_secret,
    })
}

/// The block's envelope recipients with their roles; an address listed twice is sent to
/// once, in the first role it has (the same order as `envelope_recipients`).
pub(super) fn recipients(block: &RecipientBlock) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    let roles = [(Role::To, &block.to), (Role::Cc, &block.cc), (Role::Bcc, &block.bcc)];
    for (role, list) in roles {
        for m in list {
            if !out.iter().any(|r| r.address.eq_ignore_ascii_case(&m.address)) {
                out.push(Recipient { address: m.address.clone(), name: m.name.clone(), role });
            }
        }
    }
    out
}

/// Ends the job without sending anything: `kind` (virus, failure) for every recipient, and
/// for a secure job PASSWORD_MAIL/NOT_TRIGGERED too (docs/secure-documents.md: every recipient of a secure
/// message ends with exactly one PASSWORD_MAIL event). Suppressed recipients end as such.
fn drop_job<H: Host>(host: &mut H, job: &Job, ctx: &JobContext, kind: EventKind, why: &str) -> StartOutcome {
    let secure = job.secure_document.is_some();
    let mut updates = drop_suppressed(host, job, ctx);
    each_recipient(job, |block, address| {
        if ctx.suppression(address).is_some() {
            return;
        }
        host.emit(event(block, address, EventKind::ProcessingStarted, "processing started"));
        host.emit(event(block, address, kind, why));
        if secure {
            host.emit(event(block, address, EventKind::PasswordMailNotTriggered, "the message was not sent"));
        }
        updates.push(dropped(block, address, secure));
    });
    StartOutcome::Dropped(updates)
}

fn each_recipient(job: &Job, mut f: impl FnMut(u32, &str)) {
    for (index, block) in job.blocks.iter().enumerate() {
        for address in block.envelope_recipients() {
            f(index as u32, &address);
        }
    }
}

pub(super) fn event(block: u32, recipient: &str, kind: EventKind, description: &str) -> Event {
    Event { block, recipient: recipient.to_owned(), kind, description: description.to_owned() }
}

/// 128 random bits, hex: unique Message-IDs (RFC 5322 §3.6.4) that say nothing about the job.
pub(super) fn random_token<R: RngCore>(rng: &mut R) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The archive entries' date: the time of sealing, in UTC (ZIP stores no zone).
fn zip_timestamp(unix_ms: u64) -> Timestamp {
    let (year, month, day, hour, minute, second) = mime::civil_time(unix_ms);
    // The MS-DOS date field ends in 2107; a clock past that is broken, not a reason to fail.
    let year = year.clamp(1980, 2107) as u16;
    Timestamp { year, month, day, hour, minute, second }
}
