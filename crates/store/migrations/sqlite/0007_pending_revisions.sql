-- Revisions kept aside: a changed value of a stored record that arrived later than the revision
-- window after the record was first received (fenhe_core::revision::decide_within). The value
-- is evidence and is kept, but changes nothing judged until the bureau approves it
-- (`fenhe revisions approve`), which stores it as the record's next revision and marks its day
-- dirty; a rejected one stays here with its reason.
--   device_id, cn, data_time, factor_id   the record (as in measurement_sets)
--   raw_code      the code as sent, NULL when it is the factor code itself
--   values_json   the values as sent (fenhe_core::Values, JSON)
--   frame_id, received_at                 the frame it came with
--   status        pending, approved or rejected
--   decided_at, decided_by, reason        the decision, once made
--   revision      the revision it became when approved
CREATE TABLE pending_revisions (
    id          INTEGER PRIMARY KEY,
    device_id   INTEGER NOT NULL REFERENCES devices (id),
    cn          INTEGER NOT NULL,
    data_time   INTEGER NOT NULL,
    factor_id   INTEGER NOT NULL REFERENCES factors (id),
    raw_code    TEXT,
    values_json TEXT NOT NULL,
    frame_id    INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_at  INTEGER,
    decided_by  TEXT,
    reason      TEXT,
    revision    INTEGER
) STRICT;
CREATE INDEX pending_revisions_status ON pending_revisions (status, id);
