-- fenhe on SQLite, schema 1.
--
-- Conventions: every table is STRICT; time instants are INTEGER epoch milliseconds (UTC); calendar
-- dates (limits) are TEXT 'YYYY-MM-DD'; enumerations are their snake_case names as TEXT, except in
-- the measurements table, which holds hundreds of millions of rows and is kept compact.

-- Registry ----------------------------------------------------------------------------------------

CREATE TABLE enterprises (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,        -- Enterprise::id (E01)
    name        TEXT NOT NULL,
    uscc        TEXT NOT NULL,
    ownership   TEXT NOT NULL,
    industry    TEXT NOT NULL,
    category    TEXT,
    address     TEXT NOT NULL,
    longitude   REAL,
    latitude    REAL,
    contacts    TEXT NOT NULL DEFAULT '[]'   -- JSON array of {name, role, phone}
) STRICT;

-- 排污许可量, one row per factor (REAL keeps the amounts bit-exact, which JSON would not promise).
CREATE TABLE enterprise_permits (
    enterprise_id INTEGER NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    factor        TEXT NOT NULL,
    kg_per_year   REAL NOT NULL,
    PRIMARY KEY (enterprise_id, factor)
) STRICT, WITHOUT ROWID;

CREATE TABLE outlets (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,      -- Outlet::id (E01-DA001)
    enterprise_id INTEGER NOT NULL REFERENCES enterprises (id),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('flue_gas', 'wastewater')),
    source_type   TEXT NOT NULL,
    reference_o2  REAL,
    standard      TEXT NOT NULL
) STRICT;
CREATE INDEX outlets_enterprise ON outlets (enterprise_id);

-- Effective-dated limits; `position` keeps the order they were given in.
CREATE TABLE limits (
    outlet_id      INTEGER NOT NULL REFERENCES outlets (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    factor         TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    max_value      REAL,
    min_value      REAL,
    PRIMARY KEY (outlet_id, position),
    UNIQUE (outlet_id, factor, effective_from)
) STRICT, WITHOUT ROWID;

CREATE TABLE devices (
    id                  INTEGER PRIMARY KEY,
    mn                  TEXT NOT NULL UNIQUE,
    password            TEXT NOT NULL,
    outlet_id           INTEGER NOT NULL REFERENCES outlets (id),
    protocol            TEXT NOT NULL,
    crc                 TEXT NOT NULL,
    max_segment_len     INTEGER NOT NULL,
    rtd_interval_s      INTEGER NOT NULL,
    minute_interval_min INTEGER NOT NULL,
    hourly              INTEGER NOT NULL CHECK (hourly IN (0, 1)),
    factors             TEXT NOT NULL DEFAULT '[]'   -- JSON array of factor codes
) STRICT;
CREATE INDEX devices_outlet ON devices (outlet_id);

-- Ingest ------------------------------------------------------------------------------------------

-- Every received frame, raw, with its verdict.
CREATE TABLE frames (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    peer        TEXT NOT NULL,
    mn          TEXT,
    cn          TEXT,
    verdict     TEXT NOT NULL CHECK (verdict IN
                    ('accepted', 'rejected', 'duplicate', 'unregistered', 'wrong_password')),
    reason      TEXT,
    deviations  TEXT NOT NULL DEFAULT '',
    bytes       BLOB NOT NULL
) STRICT;
CREATE INDEX frames_mn ON frames (mn, id);
CREATE INDEX frames_received_at ON frames (received_at);
-- Accepted frames are the bulk and are not in here: rejected/duplicate listings and the inbox are.
CREATE INDEX frames_notable ON frames (verdict, id) WHERE verdict <> 'accepted';

-- Running totals kept by write_batch, so that counting does not scan the frames.
CREATE TABLE frame_tally (
    verdict     TEXT NOT NULL,
    reason_kind TEXT NOT NULL,               -- text of the reason before the first ':', '' if none
    frames      INTEGER NOT NULL,
    PRIMARY KEY (verdict, reason_kind)
) STRICT, WITHOUT ROWID;

CREATE TABLE mn_traffic (
    mn            TEXT PRIMARY KEY,
    frames        INTEGER NOT NULL,
    last_frame_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Factor codes, numbered so that measurements carry a small integer.
CREATE TABLE factors (
    id   INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE
) STRICT;

-- One row per device × CN × DataTime × factor × revision, clustered on that key (WITHOUT ROWID:
-- no separate unique index, and a device's range of time is contiguous on disk).
--   cn        the data command as a number (2011, 2051, 2061, 2031)
--   raw_code  the code as sent, NULL when it is the factor code itself (nearly always)
--   device_id, factor_id
--             ids from devices and factors. Not declared as foreign keys: write_batch resolves
--             them from those tables inside its own transaction and neither table loses rows, and
--             the two parent look-ups per row (plus the statement journal they force on multi-row
--             inserts) cost about a fifth of the insert time.
--   frame_id  the frame it came with; not a foreign key either, so that raw frames can be pruned
--             sooner than measurements without an index on this column
CREATE TABLE measurements (
    device_id   INTEGER NOT NULL,
    cn          INTEGER NOT NULL,
    data_time   INTEGER NOT NULL,
    factor_id   INTEGER NOT NULL,
    revision    INTEGER NOT NULL,
    raw_code    TEXT,
    rtd         REAL,
    min         REAL,
    avg         REAL,
    max         REAL,
    cou         REAL,
    zs_rtd      REAL,
    zs_min      REAL,
    zs_avg      REAL,
    zs_max      REAL,
    flag        TEXT,
    eflag       TEXT,
    sample_time TEXT,
    frame_id    INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, cn, data_time, factor_id, revision)
) STRICT, WITHOUT ROWID;

-- Reverse commands --------------------------------------------------------------------------------

CREATE TABLE commands (
    id          INTEGER PRIMARY KEY,
    mn          TEXT NOT NULL,
    cn          TEXT NOT NULL,
    cp          TEXT NOT NULL,
    origin      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    qn          TEXT,
    status      TEXT NOT NULL CHECK (status IN
                    ('queued', 'sent', 'accepted', 'done', 'failed', 'timed_out', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    detail      TEXT
) STRICT;
CREATE INDEX commands_mn ON commands (mn, id);
CREATE INDEX commands_open ON commands (mn, id) WHERE status IN ('queued', 'sent', 'accepted');
