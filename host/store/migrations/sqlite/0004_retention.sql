-- Retention: finding finished jobs by age, and a job's rows in every table.
CREATE INDEX jobs_finished ON jobs(finished_ms) WHERE state = 'finished';
CREATE INDEX callback_posts_of_job ON callback_posts(job_id);
CREATE INDEX idempotency_job ON idempotency(job_id);
