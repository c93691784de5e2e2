-- Named, expiring leases: a job runs only while its runner holds the job's lease, so it runs
-- once at a time even when several processes share this database.
CREATE TABLE leases (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    acquired_at INTEGER NOT NULL,  -- epoch ms, when this holder took it (kept on renewal)
    expires_at  INTEGER NOT NULL   -- epoch ms; free for anyone from then on
) STRICT;
