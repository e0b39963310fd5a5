//! Reading a job's status report (`GET /rest/v1/jobs/{jobId}`) in the system tests.

use serde_json::Value;

/// The events of `email` (case-insensitive) as `PHASE/STATE/TYPE/SUBTYPE`, in order.
pub fn events_of(report: &Value, email: &str) -> Vec<String> {
    report["events"]
        .as_array()
        .expect("a status report has events")
        .iter()
        .filter(|e| e["email"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(email)))
        .map(|e| format!("{}/{}/{}/{}", e["phase"], e["state"], e["type"], e["subType"]).replace('"', ""))
        .collect()
}

/// The recipient entry of `email` (case-insensitive); panics with the report when missing.
pub fn recipient<'a>(report: &'a Value, email: &str) -> &'a Value {
    report["recipients"]
        .as_array()
        .expect("a status report has recipients")
        .iter()
        .find(|r| r["email"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(email)))
        .unwrap_or_else(|| panic!("no recipient {email} in {report}"))
}
