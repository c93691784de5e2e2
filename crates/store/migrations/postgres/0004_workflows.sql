-- Supervision workflows (WorkflowStore): tracked items of every kind (alarm reviews, rectification
-- tasks, hazards, retrofits, …), each with its whole history of steps, and the files attached to
-- steps. The same tables as SQLite's 0009_workflows.sql, with JSONB for fields and BYTEA for the
-- bytes. Nothing here is ever deleted: triggers refuse deleting items, files and steps, changing
-- a step, and truncation.

CREATE TABLE workflow_items (
    kind         TEXT COLLATE "C" NOT NULL,         -- alarms, tasks, hazards, retrofits
    id           BIGINT NOT NULL,                   -- an alarm review: its alarm's id; else 1, 2, 3 … per kind
    state        TEXT COLLATE "C" NOT NULL,
    enterprise   TEXT COLLATE "C" NOT NULL,         -- enterprise code (an enterprise user's scope)
    department   TEXT COLLATE "C",                  -- supervising department code, if any
    title        TEXT NOT NULL,
    fields       JSONB NOT NULL CHECK (jsonb_typeof(fields) = 'object'),
    due_at       BIGINT,                            -- epoch ms; NULL: no deadline
    source       TEXT,                              -- alarms/17, hazards/3, manual
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,                   -- when the last step was appended
    escalated_at BIGINT,                            -- when a job last escalated it for being late
    PRIMARY KEY (kind, id)
);
-- serves: items() of a kind, newest first, with no narrower filter (and its count_items)
CREATE INDEX workflow_items_created ON workflow_items (kind, created_at, id);
-- serves: items() with `enterprise` (an enterprise user's lists, the enterprise page)
CREATE INDEX workflow_items_enterprise ON workflow_items (kind, enterprise, created_at, id);
-- serves: items() with `states` (the lists' state filter, 我的待办)
CREATE INDEX workflow_items_state ON workflow_items (kind, state, created_at, id);
-- serves: items() with `department` (hazards supervised by a department)
CREATE INDEX workflow_items_department ON workflow_items (kind, department, created_at, id)
    WHERE department IS NOT NULL;
-- serves: items() with `due_before` (+ `exclude_states`): what is overdue or due soon, for the
-- reminder and escalation jobs and the city leader's view; items without a deadline are left out
CREATE INDEX workflow_items_due ON workflow_items (kind, due_at) WHERE due_at IS NOT NULL;

CREATE TABLE workflow_steps (
    kind       TEXT COLLATE "C" NOT NULL,
    item_id    BIGINT NOT NULL,
    seq        BIGINT NOT NULL,                     -- 1, 2, 3 … per item
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,                       -- username, or `system` for a job
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT,                                -- NULL for the creation
    to_state   TEXT NOT NULL,
    fields     JSONB NOT NULL CHECK (jsonb_typeof(fields) = 'object'),
    files      JSONB NOT NULL CHECK (jsonb_typeof(files) = 'array'),   -- sha256 hashes
    PRIMARY KEY (kind, item_id, seq),
    FOREIGN KEY (kind, item_id) REFERENCES workflow_items (kind, id)
);

-- Attachments, by content: the same bytes are stored once. Kept in the database (not on one
-- node's disk) so that every node serves them; the store caps a file at 20 MiB.
CREATE TABLE workflow_files (
    sha256       TEXT COLLATE "C" PRIMARY KEY CHECK (length(sha256) = 64),
    name         TEXT NOT NULL,                     -- as first uploaded
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    enterprise   TEXT COLLATE "C" NOT NULL,         -- the enterprise whose item it was first attached to
    stored_at    BIGINT NOT NULL,
    bytes        BYTEA NOT NULL,
    CHECK (size = octet_length(bytes))
);

CREATE FUNCTION workflow_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: workflow items, history and files are never deleted', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER workflow_items_no_delete BEFORE DELETE ON workflow_items
    FOR EACH ROW EXECUTE FUNCTION workflow_never_deleted();
CREATE TRIGGER workflow_items_no_truncate BEFORE TRUNCATE ON workflow_items
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_never_deleted();
CREATE TRIGGER workflow_steps_no_change BEFORE UPDATE OR DELETE ON workflow_steps
    FOR EACH ROW EXECUTE FUNCTION workflow_never_deleted();
CREATE TRIGGER workflow_steps_no_truncate BEFORE TRUNCATE ON workflow_steps
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_never_deleted();
CREATE TRIGGER workflow_files_no_delete BEFORE DELETE ON workflow_files
    FOR EACH ROW EXECUTE FUNCTION workflow_never_deleted();
CREATE TRIGGER workflow_files_no_truncate BEFORE TRUNCATE ON workflow_files
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_never_deleted();
