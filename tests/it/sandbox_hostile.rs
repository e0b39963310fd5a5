//! The sandbox against a guest that attacks it: the hostile test component
//! (`tests/hostile-guest/`, built by `cargo xtask build-guest`) exports the same worlds as the
//! real guest and, on command, spins forever, recurses without end, or allocates until
//! refused. Each must end in its own clean `CallError` within a bounded time, while the same
//! host keeps serving other calls — at the same time, not just afterwards, even when as many
//! guests spin as the executor has threads (the sandbox makes a running guest yield) — and,
//! through the real server with `[sandbox] service_component`, while other jobs are delivered.

use std::time::{Duration, Instant};

use sealmail_sandbox::library::{ProblemKind, Strength};
use sealmail_sandbox::{CallError, Library, RuntimeConfig, Sandbox};
use sealmail_test_support::jobs::plain_relay;
use sealmail_test_support::{Sealmail, SmtpServer, SmtpServerConfig};
use sealmail_tests::library;
use serde_json::{Value, json};

/// The hostile component of `world` (`library` or `service`), as `cargo xtask build-guest`
/// leaves it beside the real ones.
fn hostile_component_path(world: &str) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| sealmail_test_support::repo_root().join("target"), std::path::PathBuf::from);
    let path = target.join("components").join(format!("hostile-{world}.wasm"));
    assert!(path.is_file(), "{} is missing: run `cargo xtask build-guest`", path.display());
    path
}

/// The hostile `library` component in a runtime of its own with `config`.
fn hostile(config: RuntimeConfig) -> Library {
    let wasm = std::fs::read(hostile_component_path("library")).expect("the hostile component");
    Sandbox::new(config).and_then(|sandbox| sandbox.library_from(&wasm)).expect("the hostile component loads")
}

/// Test limits: small enough that every misbehaviour ends quickly.
fn limits() -> RuntimeConfig {
    RuntimeConfig { max_memory_bytes: 32 << 20, max_call_time: Duration::from_secs(1), ..RuntimeConfig::default() }
}

/// The CPU limit stops a guest within a few epoch ticks; the rest is slack for a loaded
/// two-core CI machine.
const SLACK: Duration = Duration::from_secs(2);

/// Asks the hostile guest to `command` through `validate` and returns the error and how long
/// the call took.
async fn provoke(lib: &Library, command: &str) -> (CallError, Duration) {
    let started = Instant::now();
    let outcome = lib.validate(format!("sandbox-hostile:{command}").as_bytes(), None).await;
    (outcome.expect_err(&format!("`{command}` must not come back as an answer")), started.elapsed())
}

/// The hostile guest's answer to a request without a command: it behaves.
async fn assert_behaves(lib: &Library) {
    let problems = lib.validate(b"{}", None).await.expect("a benign call works").expect_err("its fixed answer");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, ProblemKind::Unsupported);
    assert!(problems[0].message.contains("behaved"), "{problems:?}");
}

#[tokio::test]
async fn each_misbehaviour_ends_in_its_own_clean_error_within_bounded_time() {
    let config = limits();
    let lib = hostile(config.clone());
    assert_behaves(&lib).await;

    let (err, took) = provoke(&lib, "loop").await;
    assert!(matches!(err, CallError::TimeLimit { limit } if limit == config.max_call_time), "{err:?}");
    assert!(took >= config.max_call_time && took < config.max_call_time + SLACK, "took {took:?}");

    // Non-tail recursion on the wasm stack: wasmtime's stack limit, reported as such.
    let (err, took) = provoke(&lib, "recurse").await;
    assert!(matches!(err, CallError::StackLimit { limit } if limit == config.max_wasm_stack), "{err:?}");
    assert!(took < SLACK, "took {took:?}");
    assert!(err.to_string().contains("stack limit"), "{err}");

    // Recursion whose frames live on Rust's shadow stack in linear memory: it runs off the
    // bottom of the memory, which the bounds checks turn into a trap (not into corruption).
    let (err, took) = provoke(&lib, "recurse-frames").await;
    assert!(matches!(&err, CallError::Trap(why) if why.contains("out of bounds")), "{err:?}");
    assert!(took < SLACK, "took {took:?}");

    // Allocating 1 MiB blocks until the allocator fails, and `memory.grow` behind its back.
    for command in ["grow", "grow-raw"] {
        let (err, took) = provoke(&lib, command).await;
        assert!(
            matches!(err, CallError::MemoryLimit { limit } if limit == config.max_memory_bytes),
            "{command}: {err:?}"
        );
        assert!(took < SLACK, "{command} took {took:?}");
    }

    let (err, _) = provoke(&lib, "panic").await;
    assert!(matches!(err, CallError::Trap(_)), "{err:?}");

    // Nothing carries over: the same runtime serves the next call in a fresh store.
    assert_behaves(&lib).await;
    assert_eq!(lib.generate_password(Strength::High).await.expect("still serving"), "Benign23");
}

#[tokio::test]
async fn a_larger_configured_stack_is_the_limit_that_ends_runaway_recursion() {
    // The stack limit is the configured one, not a constant: at 4 MiB the runaway recursion
    // ends at the larger limit. (The engine would refuse a wasm stack beyond its fiber stack,
    // 2 MiB by default: the fiber stacks grow with the limit.)
    let config = RuntimeConfig { max_wasm_stack: 4 << 20, ..limits() };
    let lib = hostile(config);
    let (err, took) = provoke(&lib, "recurse").await;
    assert!(matches!(err, CallError::StackLimit { limit } if limit == 4 << 20), "{err:?}");
    assert!(took < SLACK, "took {took:?}");
    assert_behaves(&lib).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_keeps_serving_while_hostile_calls_run() {
    let config = RuntimeConfig { max_call_time: Duration::from_secs(2), ..limits() };
    let lib = hostile(config.clone());
    let real = library();
    // Warm up the real component (compilation or the artifact cache) outside the window.
    real.generate_password(Strength::High).await.expect("the real component");

    // Two guests spinning, one recursing and one exhausting its memory, all at once, on an
    // executor with two threads: as many spinning guests as threads, like two hostile jobs
    // on a two-core node's workers. Guest code does not yield by itself; the sandbox makes it.
    let started = Instant::now();
    let attacks: Vec<_> = ["loop", "loop", "recurse", "grow"]
        .into_iter()
        .map(|command| {
            let lib = lib.clone();
            tokio::spawn(async move { (command, provoke(&lib, command).await) })
        })
        .collect();

    // Meanwhile, on the same two threads: the real component validates and generates
    // passwords, and the hostile component itself answers benign calls in other stores,
    // each round promptly.
    let window = config.max_call_time;
    let benign = tokio::spawn(async move {
        let sample = std::fs::read(sealmail_tests::samples_dir().join("plain.json")).expect("sample");
        let (mut served, mut slowest) = (0usize, Duration::ZERO);
        while started.elapsed() < window {
            let call = Instant::now();
            real.validate(&sample, None).await.expect("the real component serves").expect("a valid sample");
            assert_eq!(real.generate_password(Strength::High).await.expect("passwords").len(), 10);
            assert_behaves(&lib).await;
            slowest = slowest.max(call.elapsed());
            served += 1;
        }
        (served, slowest, started.elapsed())
    });
    let (served, slowest, during) = benign.await.expect("the benign calls");

    // The attacks share the two threads with the benign calls, and the time they spend
    // yielded to them is not charged: at worst they run their whole budget after the window.
    let bound = window * 2 + SLACK;
    for attack in attacks {
        // A guest the limits failed to stop would hang here: fail instead.
        let ended = tokio::time::timeout(bound, attack).await;
        let (command, (err, took)) = ended.expect("an attack outlived its limits").expect("the attack task");
        let expected = match command {
            "loop" => matches!(err, CallError::TimeLimit { .. }),
            "recurse" => matches!(err, CallError::StackLimit { .. }),
            _ => matches!(err, CallError::MemoryLimit { .. }),
        };
        assert!(expected, "{command}: {err:?}");
        eprintln!("{command}: {err} after {took:?}");
        assert!(took < bound, "{command} took {took:?}");
    }
    eprintln!("served {served} rounds in {during:?} beside the attacks; slowest round {slowest:?}");
    assert!(served >= 10, "only {served} rounds served in {during:?}");
    assert!(slowest < Duration::from_secs(1), "a round took {slowest:?}");
}

/// A plain job to `to` with `subject`.
fn job(subject: &str, to: &str) -> Value {
    json!({
        "mail": { "from": { "email": "noreply@sender.example" } },
        "subject": { "content": subject },
        "body": { "contentType": "text/plain", "content": "Hello" },
        "recipients": [ { "mail": { "to": [ { "email": to } ] } } ],
    })
}

/// The description of the job's `PROCESSING_FAILED` event, if it has one.
fn failure(report: &Value) -> Option<String> {
    report["events"]
        .as_array()?
        .iter()
        .find(|e| e["subType"] == "PROCESSING_FAILED")
        .and_then(|e| e["description"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_workflow_fails_its_own_jobs_cleanly_while_other_jobs_are_delivered() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let budget = Duration::from_secs(5);
    let config = format!(
        "{}[antivirus]\nallow_insecure_no_antivirus = true\n\n\
         [sandbox]\nmax_call_secs = {}\nmax_memory_mib = 64\nmax_stack_kib = 512\nservice_component = \"{}\"\n\n\
         [queue]\nworkers = 4\nretry_delays_secs = [1]\npoll_ms = 50\n",
        plain_relay(smtp.port(), 5),
        budget.as_secs(),
        hostile_component_path("service").display()
    );
    let server = Sealmail::start(&config).await;

    // The hostile jobs first, so that two workers are spinning in `start-job` while the
    // other two process the benign jobs. The real validator at the API accepts them all:
    // the command is just their subject. Each failure names the configured limit.
    let started = Instant::now();
    let mut hostile = Vec::new();
    for (command, expected) in [
        ("loop", "time limit of 5s"),
        ("recurse", "stack limit of 524288 bytes"),
        ("grow", "memory limit of 67108864 bytes"),
        ("loop", "time limit of 5s"),
    ] {
        let id = server.submit(&job(&format!("sandbox-hostile:{command}"), "victim@recipient.example")).await;
        hostile.push((id, command, expected));
    }
    let mut benign = Vec::new();
    for n in 0..6 {
        let to = format!("user{n}@recipient.example");
        benign.push((server.submit(&job(&format!("statement {n}"), &to)).await, to));
    }

    // Every benign job is delivered while both looping jobs are still spinning.
    let received = smtp.wait_for(benign.len(), budget).await;
    let spinning: Vec<&str> =
        hostile.iter().filter(|(_, command, _)| *command == "loop").map(|(id, _, _)| id.as_str()).collect();
    let mut unfinished = 0;
    for id in &spinning {
        unfinished += usize::from(server.status(id).await["state"] != "FINISHED");
    }
    assert_eq!(received.len(), benign.len(), "the benign jobs were not delivered within {budget:?}");
    assert_eq!(unfinished, spinning.len(), "the looping jobs ended before the benign ones were delivered");
    for (id, to) in &benign {
        let report = server.wait_finished(id, Duration::from_secs(30)).await;
        let r = report["recipients"].as_array().expect("recipients").iter().find(|r| r["email"] == **to);
        let r = r.unwrap_or_else(|| panic!("no recipient {to}: {report:#}"));
        assert_eq!((r["status"].as_str(), r["subStatus"].as_str()), (Some("OK"), Some("DELIVERED")), "{report:#}");
    }

    // Each hostile job ends, FINISHED with a PROCESSING_FAILED event naming the limit,
    // within the budget and some slack: no worker stays stuck.
    for (id, command, expected) in &hostile {
        let report = server.wait_finished(id, budget + Duration::from_secs(25)).await;
        let why = failure(&report).unwrap_or_else(|| panic!("{command}: no PROCESSING_FAILED event: {report:#}"));
        assert!(why.contains(expected), "{command}: {why:?}");
    }
    let took = started.elapsed();
    assert!(took < budget + Duration::from_secs(10), "took {took:?}");
    // Nothing of the victims' was sent, and the server goes on: one more job is delivered.
    assert!(smtp.received().len() == benign.len(), "mail for a hostile job went out");
    let id = server.submit(&job("after the attacks", "late@recipient.example")).await;
    server.wait_finished(&id, Duration::from_secs(30)).await;
    assert_eq!(smtp.wait_for(benign.len() + 1, Duration::from_secs(10)).await.len(), benign.len() + 1);
}

#[tokio::test]
async fn the_real_component_needs_an_eighth_of_the_default_stack() {
    // The reason for the 1 MiB default: the real guest's deepest legitimate work (every
    // corpus request, maximal JSON nesting, sealing) passes with 128 KiB, so runaway
    // recursion is the only thing the limit stops.
    let stack = RuntimeConfig::default().max_wasm_stack / 8;
    let lib = sealmail_tests::library_with(RuntimeConfig { max_wasm_stack: stack, ..RuntimeConfig::default() });
    let mut checked = 0;
    for case in sealmail_tests::corpus() {
        let answer = lib.validate(&case.request, case.limits).await;
        let answer = answer.unwrap_or_else(|e| panic!("{}: {e}", case.file.display()));
        let valid = !case.file.components().any(|c| c.as_os_str() == "invalid");
        assert_eq!(answer.is_ok(), valid, "{}: {answer:?}", case.file.display());
        checked += 1;
    }
    assert!(checked > 50, "only {checked} corpus cases");
    for depth in [127, 100_000] {
        let doc = format!("{{\"subject\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
        lib.validate(doc.as_bytes(), None).await.expect("nesting fits the smaller stack").expect_err("invalid");
    }
    let files: Vec<sealmail_sandbox::library::File> = (0..3)
        .map(|n| sealmail_sandbox::library::File {
            name: format!("part{n}.txt"),
            content: sealmail_tests::invoice_text(2 << 20),
        })
        .collect();
    let modified = sealmail_sandbox::library::Timestamp { year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 6 };
    let sealed = lib.seal("x", &files, "pw", modified).await.expect("sealing fits the smaller stack");
    assert!(sealed.is_ok(), "{sealed:?}");
}
