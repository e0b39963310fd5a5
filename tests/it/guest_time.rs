//! The guest's CPU budget counts guest time only (issue: "the guest's CPU limit must not
//! count time spent waiting in host calls"): with a 1 s budget per workflow call, a
//! delivery through an SMTP server that takes several seconds to answer still succeeds,
//! because the wait happens in the `transport` import, outside the guest.

use std::time::{Duration, Instant};

use sealmail_test_support::Sealmail;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A correct but slow SMTP server: every reply comes `delay` late. Returns its port.
async fn slow_smtp(delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                tokio::time::sleep(delay).await;
                write.write_all(b"220 slow.test ESMTP\r\n").await.ok();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            tokio::time::sleep(delay).await;
                            write.write_all(b"250 2.0.0 queued\r\n").await.ok();
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    tokio::time::sleep(delay).await;
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-slow.test\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => b"250 ok\r\n",
                    };
                    if write.write_all(reply).await.is_err() || verb == "QUIT" {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn waiting_on_a_slow_smtp_server_is_not_guest_time() {
    let port = slow_smtp(Duration::from_millis(400)).await;
    let server = Sealmail::start(&format!(
        "[sandbox]\nmax_call_secs = 1\n\n[transport]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nallow_insecure_smtp = true\n"
    ))
    .await;
    let job = json!({
        "mail": {"from": {"email": "Sender <sender@example.com>"}},
        "subject": {"content": "slow relay"},
        "body": {"contentType": "text/plain", "content": "hello"},
        "recipients": [{"mail": {"to": [{"email": "a@example.org"}]}}]
    });
    let started = Instant::now();
    let id = server.submit(&job).await;
    let report = server.wait_finished(&id, Duration::from_secs(60)).await;
    let took = started.elapsed();
    let recipient = &report["recipients"][0];
    assert_eq!(recipient["status"], "OK", "{report:#}\n{}", server.logs());
    assert_eq!(recipient["subStatus"], "DELIVERED");
    // Greeting, EHLO, MAIL, RCPT, DATA, end of data: six replies of 400 ms each, all inside
    // one `deliver` call with a 1 s budget.
    assert!(took >= Duration::from_millis(2400), "the relay was not slow ({took:?})");
    assert!(!server.logs().contains("time limit"), "{}", server.logs());
}
