//! What one sandboxed call costs: instantiate + generate-password, a call that does no work,
//! a tiny seal, one more call into an open session; and the small seals the phase breakdown
//! derives its component figures from.

use std::time::Duration;

use anyhow::Result;
use sealmail_guest::archive::compress;
use sealmail_sandbox::Library;
use sealmail_sandbox::library::Strength;

use crate::corpus::{Corpus, tiny_text};
use crate::measure::{Samples, record, time_async, timed, timed_sync};
use crate::phases::SmallSeals;
use crate::seal::{PASSWORD, modified, seal_failed, seal_natively, seal_one_shot, seal_streaming, wit_files};

/// Calls timed for the instantiate + generate-password figure.
pub const PASSWORD_CALLS: usize = 1000;

/// Calls timed for each small-seal figure (and rounds of [`measure_calls`]).
pub const SMALL_SEAL_CALLS: usize = 200;

/// Calls timed for the in-session call overhead.
pub const SESSION_CALLS: usize = 1000;

pub struct Calls {
    /// Fresh store + instantiate + `generate(very-high)`.
    pub password: Samples,
    /// Fresh store + instantiate + `length(very-high)`: a call that does no work, so this is
    /// the sandbox's cost alone.
    pub trivial: Samples,
    /// Fresh store + instantiate + one-shot `seal` of one 100-byte text file (key derivation,
    /// trial deflate; 100 bytes of varied text do not shrink, so it is stored).
    pub tiny_seal: Samples,
    /// One more call into an open sealer session (`write` of nothing): the component-model
    /// call itself, without instantiation.
    pub session_call: Samples,
    /// The same 100-byte seal natively, for scale.
    pub native_tiny_seal: Samples,
}

/// Password calls per round of [`measure_calls`]: 1000 calls over 200 rounds.
pub const PASSWORD_CALLS_PER_ROUND: usize = PASSWORD_CALLS / SMALL_SEAL_CALLS;

/// Untimed rounds before the timed ones.
pub const WARM_UP_ROUNDS: usize = 5;

/// The per-call figures and the small seals of the phase breakdown, in interleaved rounds
/// (like [`measure_throughput`]); then the in-session call, which needs one open session.
pub async fn measure_calls(library: &Library, corpus: &Corpus) -> Result<(Calls, SmallSeals)> {
    let tiny = tiny_text();
    let tiny = tiny.as_slice();
    let note = wit_files(&[("note.txt", tiny)]);
    let tiny_jpg = [("tiny.jpg", tiny)];
    let sample = &corpus.random[..compress::SAMPLE_LEN];
    let sample_bin = wit_files(&[("sample.bin", sample)]);
    let sample_jpg = wit_files(&[("sample.jpg", sample)]);
    let one = wit_files(&tiny_jpg);
    let five = wit_files(&[("a.jpg", tiny), ("b.jpg", tiny), ("c.jpg", tiny), ("d.jpg", tiny), ("e.jpg", tiny)]);

    let mut series: [Vec<Duration>; 9] = Default::default();
    let [password, trivial, tiny_seal, native_tiny, base, bin, jpg, one_entry, five_entries] = &mut series;
    for round in 0..WARM_UP_ROUNDS + SMALL_SEAL_CALLS {
        let measured = round >= WARM_UP_ROUNDS;
        for _ in 0..PASSWORD_CALLS_PER_ROUND {
            let (time, _) = timed(async { Ok(library.generate_password(Strength::VeryHigh).await?) }).await?;
            record(password, time, measured);
        }
        let (time, _) = timed(async { Ok(library.password_length(Strength::VeryHigh).await?) }).await?;
        record(trivial, time, measured);
        record(tiny_seal, timed(seal_one_shot(library, &note)).await?.0, measured);
        record(native_tiny, timed_sync(|| seal_natively(&[("note.txt", tiny)], round as u64))?.0, measured);
        record(base, timed(seal_streaming(library, &tiny_jpg)).await?.0, measured);
        record(bin, timed(seal_one_shot(library, &sample_bin)).await?.0, measured);
        record(jpg, timed(seal_one_shot(library, &sample_jpg)).await?.0, measured);
        record(one_entry, timed(seal_one_shot(library, &one)).await?.0, measured);
        record(five_entries, timed(seal_one_shot(library, &five)).await?.0, measured);
    }

    let mut sealer = library.sealer("bench", PASSWORD, modified()).await?.map_err(seal_failed)?;
    sealer.begin_file("calls.txt").await?.map_err(seal_failed)?;
    let (session_call, _) = time_async(20, SESSION_CALLS, async || {
        sealer.write(&[]).await?.map_err(seal_failed)?;
        Ok::<_, anyhow::Error>(())
    })
    .await?;

    let [password, trivial, tiny_seal, native_tiny, base, bin, jpg, one_entry, five_entries] = series.map(Samples::new);
    let calls = Calls { password, trivial, tiny_seal, session_call, native_tiny_seal: native_tiny };
    let small = SmallSeals { base, sample_bin: bin, sample_jpg: jpg, one_entry, five_entries };
    Ok((calls, small))
}
