-- Accounts, API tokens, departments, sessions, sign-in attempts and the audit log: the identity
-- and audit layer of the web application. Secrets are never stored: passwords as argon2id PHC
-- strings, session ids and API tokens as the SHA-256 hex of the random value shown once.

-- The departments a department officer can belong to. Configuration: seeded here with the
-- city's usual list and changed with AccountStore::upsert_department.
CREATE TABLE departments (
    code           TEXT    PRIMARY KEY,          -- fgw, gxj, …
    name_zh        TEXT    NOT NULL,
    name_en        TEXT    NOT NULL,
    service_office INTEGER NOT NULL DEFAULT 0    -- 1 for the one-stop administrative service office
) STRICT;

INSERT INTO departments (code, name_zh, name_en, service_office) VALUES
    ('fgw',   '发改委',           'Development and Reform Commission', 0),
    ('gxj',   '工信局',           'Industry and Information Technology Bureau', 0),
    ('nyj',   '能源局',           'Energy Bureau', 0),
    ('yjj',   '应急管理局',       'Emergency Management Bureau', 0),
    ('zrzyj', '自然资源局',       'Natural Resources Bureau', 0),
    ('zjj',   '住建局',           'Housing and Urban-Rural Development Bureau', 0),
    ('xzsp',  '行政审批服务管理局', 'Administrative Approval Service Bureau', 1);

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    username            TEXT    NOT NULL UNIQUE,
    display_name        TEXT    NOT NULL,
    role                TEXT    NOT NULL CHECK (role IN ('admin', 'leader', 'bureau', 'department', 'enterprise')),
    department          TEXT    REFERENCES departments (code),
    enterprise          TEXT    REFERENCES enterprises (code),
    password_hash       TEXT    NOT NULL,
    active              INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,    -- epoch ms
    updated_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL,
    -- A role's unit: a department officer has a department, an enterprise user an enterprise,
    -- the others neither.
    CHECK ((role = 'department') = (department IS NOT NULL)),
    CHECK ((role = 'enterprise') = (enterprise IS NOT NULL))
) STRICT;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    label        TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    peer         TEXT    NOT NULL,
    csrf_secret  TEXT    NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);

-- Every sign-in attempt, for the throttle (failures in the last window per account and per
-- address). The account is the name as typed: attempts on unknown names count too.
CREATE TABLE sign_in_attempts (
    id       INTEGER PRIMARY KEY,
    username TEXT    NOT NULL,
    address  TEXT    NOT NULL,
    ok       INTEGER NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_attempts_username ON sign_in_attempts (username, at);
CREATE INDEX sign_in_attempts_address ON sign_in_attempts (address, at);

-- Append-only: who changed what, when, from where, with the object before and after (JSON,
-- never a password or a hash).
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    actor_role  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    object_kind TEXT    NOT NULL,
    object_id   TEXT    NOT NULL,
    before      TEXT,
    after       TEXT,
    peer        TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_object ON audit_log (object_kind, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- The demo's accounts and their generated passwords, kept so that re-running `fenhe demo` on the
-- same database prints the same ones. Only the demo writes here; a real deployment has no rows.
CREATE TABLE demo_passwords (
    user_id  INTEGER PRIMARY KEY REFERENCES users (id),
    password TEXT    NOT NULL
) STRICT;
