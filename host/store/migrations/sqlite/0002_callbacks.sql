-- The callback outbox: a job's sealed callback setup, and posts (batches of its events).
ALTER TABLE jobs ADD COLUMN callbacks BLOB;
CREATE TABLE callback_posts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, state TEXT NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL, last_status INTEGER, last_error TEXT,
  lease_owner TEXT, lease_until INTEGER, updated_ms INTEGER NOT NULL);
CREATE INDEX callback_posts_due ON callback_posts(next_ms) WHERE state = 'pending';
CREATE INDEX callback_posts_job ON callback_posts(job_id, id) WHERE state = 'pending';
ALTER TABLE events ADD COLUMN post INTEGER;
CREATE INDEX events_post ON events(post) WHERE post IS NOT NULL;
