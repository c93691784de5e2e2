-- Revisions kept aside (fenhe_core::revision::decide_within): a changed value of a stored record
-- that arrived later than the revision window after the record was first received. Kept as
-- evidence, changing nothing judged until the bureau approves it (it is then stored as the
-- record's next revision in `measurements` and its day marked dirty); a rejected one stays here
-- with its reason.
CREATE TABLE pending_revisions (
    id          BIGSERIAL PRIMARY KEY,
    device_id   BIGINT NOT NULL REFERENCES devices (id),
    cn          INTEGER NOT NULL,
    data_time   BIGINT NOT NULL,
    factor_id   INTEGER NOT NULL REFERENCES factors (id),
    raw_code    TEXT COLLATE "C",                 -- the code as sent, NULL when it is the factor code
    values_json JSONB NOT NULL,                   -- fenhe_core::Values as sent
    frame_id    BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_at  BIGINT,
    decided_by  TEXT,
    reason      TEXT,
    revision    INTEGER
);
-- serves: the bureau's list of pending (or decided) revisions, oldest first
CREATE INDEX pending_revisions_status ON pending_revisions (status, id);
