//! Hostile input straight into the component's exports, and the sandbox limits.
//!
//! Garbage, absurd nesting and huge strings must come back as validation problems (the
//! guest's answer), never as traps; a guest driven past its memory or time limit must end
//! in a clean `CallError`, after which the same host keeps serving.

use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sealmail_sandbox::library::{File, ProblemKind, Strength, Timestamp};
use sealmail_sandbox::{CallError, RuntimeConfig};
use sealmail_tests::{library, library_with};

const MODIFIED: Timestamp = Timestamp { year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 6 };

fn kinds(problems: &[sealmail_sandbox::library::Problem]) -> Vec<(String, ProblemKind)> {
    problems.iter().map(|p| (p.path.clone(), p.kind)).collect()
}

#[tokio::test]
async fn random_bytes_are_refused_not_trapped() {
    let lib = library();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    for len in [0usize, 1, 7, 64, 1000, 65_536, 1 << 20] {
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        let problems = lib.validate(&bytes, None).await.expect("no trap").expect_err("garbage is invalid");
        assert_eq!(problems.len(), 1, "{len} bytes: {problems:?}");
        assert!(
            matches!(problems[0].kind, ProblemKind::NotUtf8 | ProblemKind::MalformedJson),
            "{len} bytes: {problems:?}"
        );
        assert_eq!(problems[0].path, "");
    }
}

#[tokio::test]
async fn nesting_100_000_deep_is_a_parse_error() {
    for doc in [
        "[".repeat(100_000),
        "{\"a\":".repeat(100_000),
        format!("{{\"subject\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000)),
    ] {
        let problems = library().validate(doc.as_bytes(), None).await.expect("no trap").expect_err("invalid");
        assert_eq!(kinds(&problems), [(String::new(), ProblemKind::MalformedJson)]);
        assert!(problems[0].message.contains("recursion limit"), "{}", problems[0].message);
    }
}

#[tokio::test]
async fn a_50_mb_string_is_refused_by_size_then_by_field_rules() {
    let lib = library();
    let huge = format!("{{\"subject\":{{\"content\":\"{}\"}}}}", "a".repeat(50_000_000));
    // Default limits: refused by size before parsing.
    let problems = lib.validate(huge.as_bytes(), None).await.expect("no trap").expect_err("too large");
    assert_eq!(kinds(&problems), [(String::new(), ProblemKind::TooLarge)]);
    // With the request limit raised, the guest parses all 50 MB and reports field rules.
    let mut limits = lib.default_limits().await.unwrap();
    limits.max_request_bytes = 64 << 20;
    let problems = lib.validate(huge.as_bytes(), Some(limits)).await.expect("no trap").expect_err("invalid");
    let found = kinds(&problems);
    assert!(found.contains(&("/subject/content".into(), ProblemKind::TooLong)), "{found:?}");
    assert!(found.contains(&("/recipients".into(), ProblemKind::Missing)), "{found:?}");
}

#[tokio::test]
async fn exceeding_the_memory_limit_is_a_clean_error_and_the_host_keeps_serving() {
    let lib = library_with(RuntimeConfig { max_memory_bytes: 24 << 20, ..RuntimeConfig::default() });
    // 32 MiB of input cannot even be copied into a 24 MiB instance.
    let files = vec![File { name: "big.bin".into(), content: vec![7u8; 32 << 20] }];
    let err = lib.seal("x", &files, "pw", MODIFIED).await.expect_err("over the limit");
    assert!(matches!(err, CallError::MemoryLimit { limit } if limit == 24 << 20), "{err:?}");
    // The same runtime serves the next call in a fresh store.
    let password = lib.generate_password(Strength::High).await.expect("still serving");
    assert_eq!(password.len(), 10);
    let small = vec![File { name: "a.txt".into(), content: b"hello".to_vec() }];
    assert!(lib.seal("x", &small, "pw", MODIFIED).await.expect("still serving").is_ok());
}

#[tokio::test]
async fn exceeding_the_time_limit_is_a_clean_error_within_bounded_time() {
    let limit = Duration::from_millis(50);
    let lib = library_with(RuntimeConfig { max_call_time: limit, ..RuntimeConfig::default() });
    // 24 MiB of text: deflate + AES-256 + HMAC take far longer than 50 ms in wasm.
    let content: Vec<u8> =
        b"sealmail sealing benchmark text line 0123456789\n".iter().copied().cycle().take(24 << 20).collect();
    let files = vec![File { name: "slow.txt".into(), content }];
    let started = Instant::now();
    let err = lib.seal("x", &files, "pw", MODIFIED).await.expect_err("over the limit");
    let took = started.elapsed();
    assert!(matches!(err, CallError::TimeLimit { limit: l } if l == limit), "{err:?}");
    // Stopped within a few epoch ticks of the budget, not after finishing the work. (The
    // bound is generous for a loaded CI machine; the call alone takes seconds.)
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let password = lib.generate_password(Strength::Medium).await.expect("still serving");
    assert_eq!(password.len(), 8);
}

#[tokio::test]
async fn passwords_from_the_component_use_the_alphabet_and_every_class() {
    let lib = library();
    for (strength, len) in
        [(Strength::Medium, 8), (Strength::High, 10), (Strength::VeryHigh, 15), (Strength::Maximum, 20)]
    {
        assert_eq!(lib.password_length(strength).await.unwrap(), len);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let p = lib.generate_password(strength).await.unwrap();
            assert_eq!(p.len() as u32, len);
            assert!(p.bytes().all(|b| sealmail_guest::password::ALPHABET.contains(&b)), "{p}");
            assert!(
                p.bytes().any(|b| b.is_ascii_uppercase())
                    && p.bytes().any(|b| b.is_ascii_lowercase())
                    && p.bytes().any(|b| b.is_ascii_digit()),
                "{p}"
            );
            seen.insert(p);
        }
        assert_eq!(seen.len(), 50, "passwords repeat: the component's randomness is broken");
    }
}

#[tokio::test]
async fn a_flood_of_json_values_is_refused_before_it_exhausts_memory() {
    // 27 MB of `{},`: nine million tree nodes would need several hundred MiB.
    let flood = format!("[{}{{}}]", "{},".repeat(9_000_000));
    let problems = library().validate(flood.as_bytes(), None).await.expect("no trap").expect_err("invalid");
    assert_eq!(kinds(&problems), [(String::new(), ProblemKind::TooMany)]);
}

#[tokio::test]
async fn a_million_problems_are_counted_not_listed() {
    // 200,000 empty recipient blocks: each one a problem, the list capped.
    let doc = format!(
        r#"{{"mail":{{"from":{{"email":"a@b.example"}}}},"subject":{{"content":"s"}},"recipients":[{}{{}}]}}"#,
        "{},".repeat(199_999)
    );
    let problems = library().validate(doc.as_bytes(), None).await.expect("no trap").expect_err("invalid");
    assert_eq!(problems.len(), 1001);
    assert_eq!(problems[0].path, "/recipients/0/mail");
    let last = problems.last().unwrap();
    assert_eq!((last.path.as_str(), last.kind), ("", ProblemKind::TooMany));
    assert!(last.message.starts_with("199000 more problems"), "{}", last.message);
}

#[tokio::test]
async fn a_call_beyond_the_instance_bound_is_busy_not_a_failure() {
    let lib = library_with(RuntimeConfig { max_instances: 1, ..RuntimeConfig::default() });
    // An open sealing session holds the only slot.
    let sealer = lib.sealer("x", "pw", MODIFIED).await.expect("sandbox").expect("sealer");
    let err = lib.generate_password(Strength::High).await.expect_err("no free slot");
    assert!(matches!(err, CallError::Busy { limit: 1 }), "{err:?}");
    drop(sealer);
    assert_eq!(lib.generate_password(Strength::High).await.expect("slot free again").len(), 10);
}
