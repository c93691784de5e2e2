-- The inbox kept as a running tally: one row per verdict and sender (its MN, or its peer when no
-- MN could be read), added to by the ingest batch in the statement that inserts the frames, so
-- that the inbox's count and pages read these rows instead of grouping every unregistered or
-- wrong-password frame stored.
CREATE TABLE inbox_tally (
    verdict    TEXT NOT NULL CHECK (verdict IN ('unregistered', 'wrong_password')),
    sender     TEXT COLLATE "C" NOT NULL,   -- 'mn:' || mn, or 'peer:' || peer when the frame had no MN
    mn         TEXT COLLATE "C",            -- NULL when no MN could be read
    frames     BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    last_id    BIGINT NOT NULL,             -- frames.id of the latest frame (its peer and bytes are shown)
    PRIMARY KEY (verdict, sender)
);
-- serves: the inbox's pages, most recently seen first
CREATE INDEX inbox_tally_recent ON inbox_tally (last_seen, last_id);
-- serves: the inbox of one MN; hiding the unregistered entries of MNs registered since
CREATE INDEX inbox_tally_mn ON inbox_tally (mn) WHERE mn IS NOT NULL;

INSERT INTO inbox_tally (verdict, sender, mn, frames, first_seen, last_seen, last_id)
SELECT verdict, CASE WHEN mn IS NULL THEN 'peer:' || peer ELSE 'mn:' || mn END, min(mn),
       count(*), min(received_at), max(received_at), max(id)
FROM frames
WHERE verdict IN ('unregistered', 'wrong_password')
GROUP BY 1, 2;
