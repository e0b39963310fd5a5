-- Per-account lists: the suppression list and the rate-limit windows.
CREATE TABLE suppressions (
  account TEXT NOT NULL, address TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
  job_id TEXT NOT NULL, created_ms INTEGER NOT NULL, until_ms INTEGER NOT NULL,
  PRIMARY KEY (account, address));
CREATE TABLE rate_windows (
  account TEXT NOT NULL, window INTEGER NOT NULL, recipients INTEGER NOT NULL,
  PRIMARY KEY (account, window));
