//! The PostgreSQL store against a real PostgreSQL (docs/service.md#storage): the same contract
//! as SQLite (`sealmail_store::conformance`), and what only a shared database has — one storage key
//! for every node, migrations by nodes starting together, a newer schema refused — and
//! that finished jobs leave no secret in the rows.

use std::sync::{Arc, Mutex};

use sealmail_store::at_rest::AtRestKey;
use sealmail_store::postgres::PostgresStore;
use sealmail_store::{
    DeliveryDecision, DeliveryStatus, Effects, Jobs, MessageKind, Messages, NewJob, NewRecipient, OutgoingMessage,
    PasswordState, Queue, RecipientUpdate, Role, StartDecision, Store, StoreError, Work,
};
use sealmail_test_support::postgres::{Database, create_database};

fn key(byte: u8) -> AtRestKey {
    AtRestKey::from_bytes([byte; 32])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_contract_holds_on_postgresql() {
    let databases: Mutex<Vec<Database>> = Mutex::new(Vec::new());
    sealmail_store::conformance::run_all(async |per_post| {
        let database = create_database().await;
        let store = PostgresStore::open(&database.url, key(3), per_post).await.expect("open");
        databases.lock().unwrap().push(database);
        Arc::new(store) as Arc<dyn Store>
    })
    .await;
}

#[tokio::test]
async fn a_node_with_another_storage_key_is_refused() {
    let database = create_database().await;
    PostgresStore::open(&database.url, key(1), 100).await.expect("the first node sets the key");
    PostgresStore::open(&database.url, key(1), 100).await.expect("a node with the same key");
    let refused = PostgresStore::open(&database.url, key(2), 100).await.expect_err("another key");
    assert!(matches!(refused, StoreError::KeyMismatch), "{refused}");
    assert!(refused.to_string().contains("same storage_key"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once_and_a_newer_schema_is_refused() {
    let database = create_database().await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = database.url.clone();
            tokio::spawn(async move { PostgresStore::open(&url, key(1), 100).await.map(drop) })
        })
        .collect();
    for open in opens {
        open.await.unwrap().expect("every node starts");
    }
    let client = database.connect().await;
    let version: i32 = client.query_one("SELECT version FROM sealmail_schema", &[]).await.unwrap().get(0);
    let rows = client.query("SELECT version FROM sealmail_schema", &[]).await.unwrap().len();
    assert_eq!((version, rows), (2, 1), "every migration ran once");
    client.execute("UPDATE sealmail_schema SET version = 99", &[]).await.unwrap();
    let refused = PostgresStore::open(&database.url, key(1), 100).await.expect_err("newer schema");
    assert!(refused.to_string().contains("newer"), "{refused}");
}

#[tokio::test]
async fn stored_secrets_are_sealed_and_purged_once_the_job_is_finished() {
    let database = create_database().await;
    let store = PostgresStore::open(&database.url, key(1), 100).await.unwrap();
    let job = NewJob {
        id: "j1".into(),
        account: "acme".into(),
        received_ms: 1_000,
        request: b"{\"attachment\":\"request-plaintext\"}".to_vec(),
        recipients: vec![NewRecipient { block: 0, address: "a@x.example".into(), role: Role::To, reference: None }],
        secure: true,
        idempotency: None,
        callbacks: None,
        recipients_per_hour: None,
    };
    store.submit(job).await.unwrap();
    let Some(Work::Start(_)) = store.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no job") };
    let message = OutgoingMessage {
        message_id: "m1@x".into(),
        kind: MessageKind::Original,
        block: 0,
        parent: None,
        reverse_path: "s@x.example".into(),
        recipients: vec![sealmail_core::bindings::delivery::Recipient {
            address: "a@x.example".into(),
            name: None,
            role: Role::To,
        }],
        content: b"Subject: message-plaintext\r\n\r\n".to_vec(),
        held_secret: Some(b"password-plaintext".to_vec()),
    };
    let effects = Effects { enqueued: vec![message], events: vec![] };
    store.commit_start("j1", 2_000, StartDecision::Queued(vec![]), effects).await.unwrap();

    let client = database.connect().await;
    let stored = sealed_blobs(&client).await;
    assert!(stored.len() > 100, "the blobs are stored");
    for plain in ["request-plaintext", "message-plaintext", "password-plaintext"] {
        assert!(!stored.windows(plain.len()).any(|w| w == plain.as_bytes()), "{plain} stored in clear");
    }

    let Some(Work::Deliver(_)) = store.claim("w", 3_000, 60_000).await.unwrap() else { panic!("no message") };
    let delivered = DeliveryDecision {
        updates: vec![RecipientUpdate {
            block: 0,
            address: "a@x.example".into(),
            status: DeliveryStatus::Delivered,
            password: Some(PasswordState::Ok),
            reply: None,
            detail: None,
        }],
        retry_at: None,
        erase_held_secret: true,
        suppress: vec![],
    };
    assert!(store.commit_delivery("m1@x", 3_000, delivered, Effects::default()).await.unwrap());
    assert!(sealed_blobs(&client).await.is_empty(), "request, message and password purged");
}

/// Every request, message and held secret blob of the database, concatenated.
async fn sealed_blobs(client: &tokio_postgres::Client) -> Vec<u8> {
    let rows = client
        .query(
            "SELECT coalesce(j.request, ''), coalesce(m.content, ''), coalesce(m.held_secret, '')
             FROM jobs j JOIN messages m ON m.job_id = j.id",
            &[],
        )
        .await
        .unwrap();
    rows.iter().flat_map(|r| (0..3).flat_map(move |i| r.get::<_, Vec<u8>>(i))).collect()
}
