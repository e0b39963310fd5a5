//! The multi-node store: PostgreSQL, shared by several sealmail processes
//! (docs/service.md#several-nodes-on-postgresql), with the SQLite store's semantics
//! operation for operation.
//!
//! Work is shared with leases: a claim is one statement that picks the most overdue row
//! with `FOR UPDATE SKIP LOCKED` (two nodes never wait for, nor take, the same row) and sets
//! `lease_owner`/`lease_until`. A node that dies keeps its leases until `lease_until`
//! passes; then any node claims the work again. Lease times come from the nodes' clocks,
//! which must agree (NTP) to well within a lease. [`crate::Queue::release_leases`] is a
//! no-op here: it exists for the single node of an SQLite store, and on a shared database it
//! would take work away from live nodes (owners are per process, so a restarted node has no
//! leases of its own to release; its old ones simply expire).
//!
//! Consistency: every commit is one transaction at READ COMMITTED that first locks the
//! job's row (`SELECT … FOR UPDATE`), so the commits of one job run one after the other
//! across all nodes: the last message to finish sees the others done (`finish_if_done`),
//! one job's events and callback posts get ids in commit order, and the purge of a callback
//! setup cannot slip between two commits. Idempotency keys rely on the primary key with
//! `ON CONFLICT DO NOTHING`: of two racing submissions one inserts, the other waits for it
//! and replays. A deadlock or serialization failure reported by PostgreSQL repeats the
//! whole transaction ([`connection::CONFLICT_ATTEMPTS`]).
//!
//! Durability: a write returns only after `COMMIT` returned, which with PostgreSQL's
//! default `synchronous_commit = on` means the WAL is flushed. Blobs are encrypted at rest
//! ([`crate::at_rest`]) before they are sent, so the database server never sees request
//! bodies, messages, passwords or callback credentials in clear.
//!
//! The connection is plain TCP or a Unix socket (`NoTls`): run the database on a private
//! network or the same host. One file per concern of the store's interface, as in the
//! SQLite backend: [`jobs`], [`queue`], [`messages`], [`outbox`], [`accounts`], [`lists`],
//! [`erase`]; migrations and the storage-key check in [`schema`], key rotation in [`rotate`];
//! the pool and the transactions in [`connection`], the statements several concerns' commits
//! share in [`commit`].

mod accounts;
mod commit;
mod connection;
mod erase;
mod jobs;
mod lists;
mod messages;
mod outbox;
mod queue;
mod rotate;
mod schema;

pub use connection::PostgresStore;
