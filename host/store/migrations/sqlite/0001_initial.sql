-- Accounts, jobs with their recipients, queued messages with their deliveries, events and
-- idempotency keys. A released migration is never edited: a change is a new file.
CREATE TABLE accounts (
  name TEXT PRIMARY KEY, secret_hash BLOB NOT NULL, customer_no TEXT, created_ms INTEGER NOT NULL);
CREATE TABLE jobs (
  id TEXT PRIMARY KEY, account TEXT NOT NULL, received_ms INTEGER NOT NULL, request BLOB,
  secure INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms INTEGER, lease_owner TEXT, lease_until INTEGER, finished_ms INTEGER);
CREATE INDEX jobs_due ON jobs(next_ms) WHERE state = 'queued';
CREATE TABLE recipients (
  job_id TEXT NOT NULL, block INTEGER NOT NULL, address TEXT NOT NULL, role TEXT NOT NULL,
  reference TEXT, status TEXT NOT NULL, password TEXT NOT NULL, reply TEXT, detail TEXT,
  updated_ms INTEGER NOT NULL, PRIMARY KEY (job_id, block, address));
CREATE TABLE messages (
  id TEXT PRIMARY KEY, job_id TEXT NOT NULL, block INTEGER NOT NULL, kind TEXT NOT NULL,
  parent TEXT, reverse_path TEXT NOT NULL, content BLOB, held_secret BLOB,
  first_attempt_ms INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms INTEGER NOT NULL, lease_owner TEXT, lease_until INTEGER, done INTEGER NOT NULL DEFAULT 0);
CREATE INDEX messages_due ON messages(next_ms) WHERE done = 0;
CREATE INDEX messages_job ON messages(job_id);
CREATE TABLE deliveries (
  message_id TEXT NOT NULL, address TEXT NOT NULL, name TEXT, role TEXT NOT NULL,
  status TEXT NOT NULL, PRIMARY KEY (message_id, address));
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, block INTEGER NOT NULL,
  recipient TEXT NOT NULL, kind TEXT NOT NULL, description TEXT NOT NULL, ts_ms INTEGER NOT NULL);
CREATE INDEX events_job ON events(job_id, seq);
CREATE TABLE idempotency (
  account TEXT NOT NULL, key TEXT NOT NULL, body_sha256 BLOB NOT NULL, job_id TEXT NOT NULL,
  created_ms INTEGER NOT NULL, PRIMARY KEY (account, key));
