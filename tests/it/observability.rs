//! Observability from outside: `GET /metrics` and the JSON log format of the real
//! `sealmail` binary after real deliveries to a real SMTP server.
//!
//! What is proven: the exposition parses with the Prometheus project's own OpenMetrics parser
//! (Python `prometheus_client`), and its figures match what happened — two jobs accepted and
//! finished, one submission refused as invalid, the queue empty again, one recipient
//! delivered and one bounced, a password mail delivered, the component calls timed. With
//! `log_format = "json"` every log line is one JSON object (the start-up notices before
//! logging starts stay text), and every line the processing of a job writes names that job.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::Method;
use sealmail_test_support::jobs::{plain_relay, secure_statement};
use sealmail_test_support::{ACCOUNT, RcptRule, Sealmail, SmtpServer, SmtpServerConfig, python};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

/// Parses an OpenMetrics exposition (stdin) with `prometheus_client` and prints one line
/// per sample: `name{label="value",…} value`, labels sorted.
const PARSE: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
"#;

#[tokio::test]
async fn metrics_count_what_happened_and_json_logs_name_the_job() {
    let smtp = SmtpServer::start(SmtpServerConfig {
        rcpt_rules: vec![RcptRule::permanent("gone@recipient.example", "550 5.1.1 no such user")],
        ..Default::default()
    })
    .await;
    let config = format!(
        "log_format = \"json\"\n{}[antivirus]\nallow_insecure_no_antivirus = true\n",
        plain_relay(smtp.port(), 10)
    );
    let server = Sealmail::start(&config).await;
    let first = server.submit(&secure_statement("One", "one", &["max@recipient.example".to_owned()])).await;
    let second = server.submit(&secure_statement("Two", "two", &["gone@recipient.example".to_owned()])).await;
    let (code, _, _) = server.submit_raw(ACCOUNT, b"{\"not\": \"a job\"}".to_vec(), &[]).await;
    assert_eq!(code, 400);
    server.wait_finished(&first, DEADLINE).await;
    server.wait_finished(&second, DEADLINE).await;

    // Metrics, through the Prometheus parser.
    let response = reqwest::get(format!("{}/metrics", server.base_url)).await.expect("GET /metrics");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = response.text().await.unwrap();
    let parsed = python(PARSE, &[], text.as_bytes()).unwrap_or_else(|e| panic!("unparseable exposition: {e}\n{text}"));
    let samples: BTreeMap<&str, f64> = parsed
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(name, value)| (name, value.parse().expect("a number")))
        .collect();
    let sample = |name: &str| samples.get(name).copied().unwrap_or_else(|| panic!("no {name} in\n{parsed}"));
    assert_eq!(sample("sealmail_jobs_accepted_total{}"), 2.0);
    assert_eq!(sample("sealmail_jobs_finished_total{}"), 2.0);
    assert_eq!(sample("sealmail_jobs_refused_total{reason=\"invalid\"}"), 1.0);
    assert_eq!(sample("sealmail_jobs_unfinished{}"), 0.0);
    assert_eq!(sample("sealmail_deliveries_total{kind=\"original\",outcome=\"delivered\"}"), 1.0);
    assert_eq!(sample("sealmail_deliveries_total{kind=\"original\",outcome=\"bounced\"}"), 1.0);
    assert_eq!(sample("sealmail_deliveries_total{kind=\"password_mail\",outcome=\"delivered\"}"), 1.0);
    assert_eq!(sample("sealmail_component_call_seconds_count{call=\"start_job\"}"), 2.0);
    assert_eq!(sample("sealmail_component_call_seconds_count{call=\"validate\"}"), 3.0);
    assert!(
        sample("sealmail_component_call_seconds_count{call=\"deliver\"}") >= 3.0,
        "two originals, one password mail"
    );

    // The suppression route is authenticated, `/metrics` is not: both answer.
    let (code, _, _) = server.call(Method::GET, "/rest/v1/suppressions", ACCOUNT).await;
    assert_eq!(code, 200);

    // JSON logs: every line an object; every line of a job's processing names the job.
    let logs = server.logs();
    let stderr = logs.split("--- stderr ---").nth(1).expect("stderr section");
    let mut seen_jobs = BTreeSet::new();
    let mut processing_lines = 0;
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(entry["timestamp"].is_string() && entry["level"].is_string(), "{line}");
        let target = entry["target"].as_str().unwrap_or_default();
        let message = entry["fields"]["message"].as_str().unwrap_or_default();
        let about_a_job = ["sealmail_workflow::pool", "sealmail_workflow::runtime", "sealmail_workflow::capabilities"]
            .iter()
            .any(|module| target.starts_with(module))
            || target.starts_with("sealmail_smtp");
        if about_a_job {
            processing_lines += 1;
            let job = entry["span"]["job_id"].as_str().unwrap_or_else(|| panic!("no job_id on: {line}"));
            assert!(job == first || job == second, "{line}");
            seen_jobs.insert(job.to_owned());
            assert!(!message.is_empty(), "{line}");
        }
    }
    assert!(processing_lines >= 6, "start, attempts and finish of two jobs are logged:\n{stderr}");
    assert_eq!(seen_jobs, BTreeSet::from([first.clone(), second.clone()]));
}
