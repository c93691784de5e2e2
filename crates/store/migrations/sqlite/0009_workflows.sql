-- Supervision workflows (WorkflowStore): tracked items of every kind (alarm reviews, rectification
-- tasks, hazards, retrofits, …), each with its whole history of steps, and the files attached to
-- steps. What an action does is decided by fenhe_core::workflow; the store keeps the result.
-- Nothing here is ever deleted: triggers refuse deleting items and steps and changing a step.

-- One row per item, keyed per kind: an alarm review has its alarm's id, the others 1, 2, 3 …
-- Fields are a JSON object of text by name, merged (never emptied) by each step.
CREATE TABLE workflow_items (
    kind         TEXT    NOT NULL,          -- alarms, tasks, hazards, retrofits
    id           INTEGER NOT NULL,
    state        TEXT    NOT NULL,
    enterprise   TEXT    NOT NULL,          -- enterprise code (an enterprise user's scope)
    department   TEXT,                      -- supervising department code, if any
    title        TEXT    NOT NULL,
    fields       TEXT    NOT NULL CHECK (json_valid(fields) AND json_type(fields) = 'object'),
    due_at       INTEGER,                   -- epoch ms; NULL: no deadline
    source       TEXT,                      -- alarms/17, hazards/3, manual
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,          -- when the last step was appended
    escalated_at INTEGER,                   -- when a job last escalated it for being late
    PRIMARY KEY (kind, id)
) STRICT;
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

-- The history of each item: step 1 is its creation, each applied action appends the next.
CREATE TABLE workflow_steps (
    kind       TEXT    NOT NULL,
    item_id    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,            -- 1, 2, 3 … per item
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,            -- username, or `system` for a job
    role       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    from_state TEXT,                        -- NULL for the creation
    to_state   TEXT    NOT NULL,
    fields     TEXT    NOT NULL CHECK (json_valid(fields) AND json_type(fields) = 'object'),
    files      TEXT    NOT NULL CHECK (json_valid(files) AND json_type(files) = 'array'),  -- sha256 hashes
    PRIMARY KEY (kind, item_id, seq),
    FOREIGN KEY (kind, item_id) REFERENCES workflow_items (kind, id)
) STRICT;

-- Attachments, by content: the same bytes are stored once. Kept in the database (not on one
-- node's disk) so that every node of a deployment serves them; the store caps a file at 20 MiB.
CREATE TABLE workflow_files (
    sha256       TEXT    PRIMARY KEY CHECK (length(sha256) = 64),
    name         TEXT    NOT NULL,          -- as first uploaded
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    enterprise   TEXT    NOT NULL,          -- the enterprise whose item it was first attached to
    stored_at    INTEGER NOT NULL,
    bytes        BLOB    NOT NULL,
    CHECK (size = length(bytes))
) STRICT;

CREATE TRIGGER workflow_items_no_delete BEFORE DELETE ON workflow_items
BEGIN SELECT RAISE(ABORT, 'workflow items are never deleted'); END;
CREATE TRIGGER workflow_steps_no_update BEFORE UPDATE ON workflow_steps
BEGIN SELECT RAISE(ABORT, 'workflow history is append-only'); END;
CREATE TRIGGER workflow_steps_no_delete BEFORE DELETE ON workflow_steps
BEGIN SELECT RAISE(ABORT, 'workflow history is append-only'); END;
CREATE TRIGGER workflow_files_no_delete BEFORE DELETE ON workflow_files
BEGIN SELECT RAISE(ABORT, 'workflow files are never deleted'); END;
