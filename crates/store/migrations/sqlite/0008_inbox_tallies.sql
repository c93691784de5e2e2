-- The inbox kept as a running tally: one row per verdict and sender (its MN, or its peer when no
-- MN could be read), maintained by a trigger as frames are inserted, so that the inbox's count and
-- pages read these rows instead of grouping every unregistered or wrong-password frame stored
-- (with 100,000 such frames that grouping took 273 ms per status page).

CREATE TABLE inbox_tally (
    verdict    TEXT    NOT NULL CHECK (verdict IN ('unregistered', 'wrong_password')),
    sender     TEXT    NOT NULL,   -- 'mn:' || mn, or 'peer:' || peer when the frame had no MN
    mn         TEXT,               -- NULL when no MN could be read
    frames     INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,   -- received_at of the first frame
    last_seen  INTEGER NOT NULL,   -- received_at of the latest frame
    last_id    INTEGER NOT NULL,   -- frames.id of the latest frame (its peer and bytes are shown)
    PRIMARY KEY (verdict, sender)
) STRICT;
-- The inbox's order: most recently seen first.
CREATE INDEX inbox_tally_recent ON inbox_tally (last_seen, last_id);
CREATE INDEX inbox_tally_mn ON inbox_tally (mn) WHERE mn IS NOT NULL;

INSERT INTO inbox_tally (verdict, sender, mn, frames, first_seen, last_seen, last_id)
SELECT verdict, CASE WHEN mn IS NULL THEN 'peer:' || peer ELSE 'mn:' || mn END, mn,
       COUNT(*), MIN(received_at), MAX(received_at), MAX(id)
FROM frames
WHERE verdict IN ('unregistered', 'wrong_password')
GROUP BY 1, 2;

-- A trigger rather than a statement of the ingest batch: it counts every frame however it was
-- written (the batch, a conversion, a test), in the same transaction.
CREATE TRIGGER frames_inbox_tally AFTER INSERT ON frames
WHEN NEW.verdict IN ('unregistered', 'wrong_password')
BEGIN
    INSERT INTO inbox_tally (verdict, sender, mn, frames, first_seen, last_seen, last_id)
    VALUES (NEW.verdict, CASE WHEN NEW.mn IS NULL THEN 'peer:' || NEW.peer ELSE 'mn:' || NEW.mn END,
            NEW.mn, 1, NEW.received_at, NEW.received_at, NEW.id)
    ON CONFLICT (verdict, sender) DO UPDATE SET
        frames = frames + 1,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        last_id = max(last_id, excluded.last_id);
END;
