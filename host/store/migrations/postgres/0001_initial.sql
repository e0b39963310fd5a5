-- The SQLite schema of migrations 1 to 3 in one step (same tables and columns), with
-- BIGSERIAL where SQLite has rowid/AUTOINCREMENT: recipients and deliveries are reported
-- in insertion order. A released migration is never edited: a change is a new file.
CREATE TABLE accounts (
  name TEXT PRIMARY KEY, secret_hash BYTEA NOT NULL, customer_no TEXT, created_ms BIGINT NOT NULL);
CREATE TABLE jobs (
  id TEXT PRIMARY KEY, account TEXT NOT NULL, received_ms BIGINT NOT NULL, request BYTEA,
  secure BOOLEAN NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms BIGINT, lease_owner TEXT, lease_until BIGINT, finished_ms BIGINT, callbacks BYTEA);
CREATE INDEX jobs_due ON jobs(next_ms) WHERE state = 'queued';
CREATE TABLE recipients (
  seq BIGSERIAL NOT NULL, job_id TEXT NOT NULL, block INTEGER NOT NULL, address TEXT NOT NULL,
  role TEXT NOT NULL, reference TEXT, status TEXT NOT NULL, password TEXT NOT NULL, reply TEXT,
  detail TEXT, updated_ms BIGINT NOT NULL, PRIMARY KEY (job_id, block, address));
CREATE TABLE messages (
  id TEXT PRIMARY KEY, job_id TEXT NOT NULL, block INTEGER NOT NULL, kind TEXT NOT NULL,
  parent TEXT, reverse_path TEXT NOT NULL, content BYTEA, held_secret BYTEA,
  first_attempt_ms BIGINT NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms BIGINT NOT NULL, lease_owner TEXT, lease_until BIGINT, done BOOLEAN NOT NULL DEFAULT FALSE);
CREATE INDEX messages_due ON messages(next_ms) WHERE NOT done;
CREATE INDEX messages_job ON messages(job_id);
CREATE TABLE deliveries (
  seq BIGSERIAL NOT NULL, message_id TEXT NOT NULL, address TEXT NOT NULL, name TEXT,
  role TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (message_id, address));
CREATE TABLE callback_posts (
  id BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL, state TEXT NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0, next_ms BIGINT NOT NULL, last_status INTEGER, last_error TEXT,
  lease_owner TEXT, lease_until BIGINT, updated_ms BIGINT NOT NULL);
CREATE INDEX callback_posts_due ON callback_posts(next_ms) WHERE state = 'pending';
CREATE INDEX callback_posts_job ON callback_posts(job_id, id) WHERE state = 'pending';
CREATE TABLE events (
  seq BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL, block INTEGER NOT NULL, recipient TEXT NOT NULL,
  kind TEXT NOT NULL, description TEXT NOT NULL, ts_ms BIGINT NOT NULL, post BIGINT);
CREATE INDEX events_job ON events(job_id, seq);
CREATE INDEX events_post ON events(post) WHERE post IS NOT NULL;
CREATE TABLE idempotency (
  account TEXT NOT NULL, key TEXT NOT NULL, body_sha256 BYTEA NOT NULL, job_id TEXT NOT NULL,
  created_ms BIGINT NOT NULL, PRIMARY KEY (account, key));
CREATE TABLE suppressions (
  account TEXT NOT NULL, address TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
  job_id TEXT NOT NULL, created_ms BIGINT NOT NULL, until_ms BIGINT NOT NULL,
  PRIMARY KEY (account, address));
CREATE TABLE rate_windows (
  account TEXT NOT NULL, window_no BIGINT NOT NULL, recipients BIGINT NOT NULL,
  PRIMARY KEY (account, window_no));
CREATE TABLE sealmail_meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
