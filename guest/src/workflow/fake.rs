//! A scripted [`Host`] for the workflow's unit tests: records what the workflow asked for
//! and answers scans and sends from queues the test fills.

use std::collections::{HashMap, VecDeque};

use super::{Event, EventKind, Host, Outcome, OutgoingMessage, Reply, Verdict};

#[derive(Default)]
pub(crate) struct FakeHost {
    pub now: u64,
    pub verdicts: VecDeque<Verdict>,
    /// Per address, the outcomes of successive attempts (default: delivered).
    pub outcomes: HashMap<String, VecDeque<Outcome>>,
    pub secrets: HashMap<String, Vec<u8>>,
    pub enqueued: Vec<OutgoingMessage>,
    pub events: Vec<Event>,
    pub sent: Vec<(String, Vec<String>)>,
    pub scanned: Vec<String>,
}

pub(crate) fn ok() -> Outcome {
    Outcome::Delivered(reply(250, None, "2.0.0 Ok"))
}

pub(crate) fn reply(code: u16, enhanced: Option<&str>, text: &str) -> Reply {
    Reply { code: Some(code), enhanced: enhanced.map(str::to_owned), text: text.to_owned() }
}

impl FakeHost {
    pub fn kinds(&self, address: &str) -> Vec<EventKind> {
        self.events.iter().filter(|e| e.recipient == address).map(|e| e.kind).collect()
    }
}

impl Host for FakeHost {
    fn now(&mut self) -> u64 {
        self.now
    }
    fn scan(&mut self, name: &str, _content: &[u8]) -> Verdict {
        self.scanned.push(name.to_owned());
        self.verdicts.pop_front().unwrap_or(Verdict::Clean)
    }
    fn send(&mut self, message_id: &str, recipients: &[String]) -> Vec<(String, Outcome)> {
        self.sent.push((message_id.to_owned(), recipients.to_vec()));
        recipients
            .iter()
            .map(|r| (r.clone(), self.outcomes.get_mut(r).and_then(VecDeque::pop_front).unwrap_or_else(ok)))
            .collect()
    }
    fn enqueue(&mut self, message: OutgoingMessage) {
        if let Some(secret) = &message.held_secret {
            self.secrets.insert(message.message_id.clone(), secret.clone());
        }
        self.enqueued.push(message);
    }
    fn held_secret(&mut self, message_id: &str) -> Option<Vec<u8>> {
        self.secrets.get(message_id).cloned()
    }
    fn emit(&mut self, event: Event) {
        self.events.push(event);
    }
}
