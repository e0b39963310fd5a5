//! Parity: the native build of the guest logic and the component in wasmtime give the same
//! validation result, field for field, on every sample and every corpus case. A difference
//! means the wasm build behaves differently (float formatting, hashing, randomness) or the
//! host's JSON mapping has drifted from the guest's types.

use sealmail_guest::request::{self, summary::JobSummary};
use sealmail_tests::{corpus, library};
use serde_json::{Value, json};

fn native(bytes: &[u8], limits: Option<sealmail_sandbox::library::Limits>) -> Value {
    let limits = limits.map_or_else(request::Limits::default, |l| request::Limits {
        max_request_bytes: l.max_request_bytes,
        max_message_bytes: l.max_message_bytes,
        max_addresses: l.max_addresses,
        max_rendered_bytes: l.max_rendered_bytes,
    });
    match request::validate(bytes, &limits) {
        Ok(v) => json!({ "valid": true, "summary": serde_json::to_value(JobSummary::new(&v)).unwrap() }),
        Err(problems) => json!({ "valid": false, "problems": serde_json::to_value(problems).unwrap() }),
    }
}

#[tokio::test]
async fn native_and_component_validation_agree_on_the_whole_corpus() {
    let lib = library();
    let cases = corpus();
    assert!(cases.len() >= 40, "the corpus has only {} cases", cases.len());
    let mut compared = 0;
    for case in &cases {
        let component = sealmail_sandbox::validation_json::outcome(
            &lib.validate(&case.request, case.limits).await.expect("no trap"),
        );
        let native = native(&case.request, case.limits);
        assert_eq!(component, native, "{}: component and native differ", case.file.display());
        compared += 1;
    }
    eprintln!("parity holds on {compared} requests");
}
