-- fenhe on PostgreSQL, schema 1: every role of the store (crates/store/src/postgres/).
--
-- Conventions: time instants are BIGINT epoch milliseconds (UTC); calendar dates (limits) are
-- DATE; enumerations are their snake_case names as text with a CHECK; text that is sorted or
-- compared is COLLATE "C" (byte order, as on SQLite, whatever the database's locale); JSON kept
-- as given is jsonb. Integer columns read by the store are BIGINT unless the table is one of the
-- two big ones (frames, measurements), where each byte counts.
--
-- The two big tables are partitioned by month (China time, like every period of the engine):
-- `frames` by receipt time, `measurements` by DataTime. Partitions are created by the store as
-- data for a month arrives (and the current and next month at every start), named
-- frames_pYYYYMM / measurements_pYYYYMM; retention drops whole partitions.
--
-- Which index serves which query is said at each index ("serves: …"); docs/ARCHITECTURE.md
-- repeats it as a table.

-- Registry ----------------------------------------------------------------------------------------

CREATE TABLE enterprises (
    id          BIGSERIAL PRIMARY KEY,
    code        TEXT COLLATE "C" NOT NULL UNIQUE,   -- Enterprise::id (E01); serves: registry, alarms by enterprise
    name        TEXT NOT NULL,
    uscc        TEXT NOT NULL,
    ownership   TEXT NOT NULL,
    industry    TEXT NOT NULL,
    category    TEXT,
    address     TEXT NOT NULL,
    longitude   DOUBLE PRECISION,
    latitude    DOUBLE PRECISION,
    contacts    JSONB NOT NULL DEFAULT '[]'          -- array of {name, role, phone}
);

CREATE TABLE enterprise_permits (
    enterprise_id BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    factor        TEXT COLLATE "C" NOT NULL,
    kg_per_year   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (enterprise_id, factor)
);

CREATE TABLE outlets (
    id            BIGSERIAL PRIMARY KEY,
    code          TEXT COLLATE "C" NOT NULL UNIQUE,  -- Outlet::id (E01-DA001)
    enterprise_id BIGINT NOT NULL REFERENCES enterprises (id),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('flue_gas', 'wastewater')),
    source_type   TEXT NOT NULL,
    reference_o2  DOUBLE PRECISION,
    standard      TEXT NOT NULL
);
-- serves: alarms and findings of an enterprise (outlets of enterprise e)
CREATE INDEX outlets_enterprise ON outlets (enterprise_id);

-- Effective-dated limits; `position` keeps the order they were given in.
CREATE TABLE limits (
    outlet_id      BIGINT NOT NULL REFERENCES outlets (id) ON DELETE CASCADE,
    position       BIGINT NOT NULL,
    factor         TEXT COLLATE "C" NOT NULL,
    effective_from DATE NOT NULL,
    max_value      DOUBLE PRECISION,
    min_value      DOUBLE PRECISION,
    PRIMARY KEY (outlet_id, position),
    UNIQUE (outlet_id, factor, effective_from)
);

CREATE TABLE devices (
    id                  BIGSERIAL PRIMARY KEY,
    mn                  TEXT COLLATE "C" NOT NULL UNIQUE,  -- serves: every look-up by MN
    password            TEXT NOT NULL,
    outlet_id           BIGINT NOT NULL REFERENCES outlets (id),
    protocol            TEXT NOT NULL,
    crc                 TEXT NOT NULL,
    max_segment_len     BIGINT NOT NULL,
    rtd_interval_s      BIGINT NOT NULL,
    minute_interval_min BIGINT NOT NULL,
    hourly              BOOLEAN NOT NULL,
    factors             JSONB NOT NULL DEFAULT '[]'          -- array of factor codes
);
-- serves: findings of an outlet (devices at outlet o)
CREATE INDEX devices_outlet ON devices (outlet_id);

-- Registry import attempts, successful or refused.
CREATE TABLE imports (
    id       BIGSERIAL PRIMARY KEY,   -- serves: imports, newest first
    at       BIGINT NOT NULL,
    files    JSONB NOT NULL,          -- array of the file names given
    ok       BOOLEAN NOT NULL,
    summary  TEXT NOT NULL,
    problems JSONB NOT NULL           -- array of "file:line: field: message"
);

-- Ingest ------------------------------------------------------------------------------------------

-- Every received frame, raw, with its verdict; partitioned by month of receipt. Ids come from
-- frames_id_seq (taken by write_batch), so they grow with receipt across processes; the primary
-- key must hold the partition key, hence (id, received_at).
CREATE SEQUENCE frames_id_seq AS BIGINT;
CREATE TABLE frames (
    id          BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    peer        TEXT NOT NULL,
    mn          TEXT COLLATE "C",
    cn          TEXT,
    verdict     TEXT NOT NULL CHECK (verdict IN
                    ('accepted', 'rejected', 'duplicate', 'unregistered', 'wrong_password')),
    reason      TEXT,
    deviations  TEXT NOT NULL DEFAULT '',
    bytes       BYTEA NOT NULL,
    -- serves: frames paged or tailed by id (after_id / before_id, oldest or newest first), and
    -- the inbox's join from a group to its last frame
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
-- serves: a device's frames, newest or oldest first (the devices page, `fenhe data frames --mn`)
CREATE INDEX frames_mn ON frames (mn, id);
-- serves: frames of a time range, and frame_counts_by_mn (frames today per MN and verdict,
-- answered from the index alone)
CREATE INDEX frames_received_at ON frames (received_at) INCLUDE (mn, verdict);
-- serves: the inbox and the lists of rejected / duplicate / unregistered frames (accepted
-- frames, the bulk, are not in it)
CREATE INDEX frames_notable ON frames (verdict, id) WHERE verdict <> 'accepted';

-- Running totals kept by write_batch, so that counting does not scan the frames. Spread over
-- `shard`s (the writing connection's backend pid modulo 16) so that two nodes' batches do not
-- wait for each other on one hot row; frame_counts sums them.
CREATE TABLE frame_tally (
    verdict     TEXT COLLATE "C" NOT NULL,
    reason_kind TEXT COLLATE "C" NOT NULL,
    shard       SMALLINT NOT NULL,
    frames      BIGINT NOT NULL,
    PRIMARY KEY (verdict, reason_kind, shard)
);

-- Per MN (registered or not): frames received and the last receipt time (device_activity).
CREATE TABLE mn_traffic (
    mn            TEXT COLLATE "C" PRIMARY KEY,
    frames        BIGINT NOT NULL,
    last_frame_at BIGINT NOT NULL
);

-- Factor codes, numbered so that measurements carry a small integer.
CREATE TABLE factors (
    id   SERIAL PRIMARY KEY,
    code TEXT COLLATE "C" NOT NULL UNIQUE
);

-- One row per device × CN × DataTime × factor × revision, partitioned by month of DataTime.
-- Fixed-width columns first, widest first (no padding between them); absent values cost only
-- their bit in the row's null bitmap.
--   cn        the data command as a number (2011, 2051, 2061, 2031)
--   raw_code  the code as sent, NULL when it is the factor code itself (nearly always)
--   frame_id  the frame it came with; not a foreign key, so that raw frames can be dropped
--             sooner than measurements
-- device_id and factor_id are not declared foreign keys either: write_batch resolves them in
-- its own transaction, neither table loses rows, and the check would cost every insert.
CREATE TABLE measurements (
    device_id   BIGINT NOT NULL,
    data_time   BIGINT NOT NULL,
    frame_id    BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    cn          INTEGER NOT NULL,
    factor_id   INTEGER NOT NULL,
    revision    INTEGER NOT NULL,
    rtd         DOUBLE PRECISION,
    min         DOUBLE PRECISION,
    avg         DOUBLE PRECISION,
    max         DOUBLE PRECISION,
    cou         DOUBLE PRECISION,
    zs_rtd      DOUBLE PRECISION,
    zs_min      DOUBLE PRECISION,
    zs_avg      DOUBLE PRECISION,
    zs_max      DOUBLE PRECISION,
    raw_code    TEXT COLLATE "C",
    flag        TEXT,
    eflag       TEXT,
    sample_time TEXT,
    -- serves: write_batch's look-up of the stored revisions of a batch's records; the engine's
    -- loader (compliance_records: one device, CN, DataTime range, latest revision by DISTINCT
    -- ON); measurement queries and exports by device, CN and time; data_times (gap requests)
    PRIMARY KEY (device_id, cn, data_time, factor_id, revision)
) PARTITION BY RANGE (data_time);

-- The newest DataTime stored per device and data command, kept by write_batch (the devices
-- page's "latest data" without touching the measurements).
CREATE TABLE latest_data (
    device_id BIGINT NOT NULL,
    cn        INTEGER NOT NULL,
    data_time BIGINT NOT NULL,
    PRIMARY KEY (device_id, cn)
);

-- Reverse commands --------------------------------------------------------------------------------

CREATE TABLE commands (
    id          BIGSERIAL PRIMARY KEY,
    mn          TEXT COLLATE "C" NOT NULL,
    cn          TEXT NOT NULL,
    cp          TEXT NOT NULL,
    origin      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    qn          TEXT,
    status      TEXT NOT NULL CHECK (status IN
                    ('queued', 'sent', 'accepted', 'done', 'failed', 'timed_out', 'cancelled')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL,
    detail      TEXT
);
-- serves: a device's commands, newest first
CREATE INDEX commands_mn ON commands (mn, id);
-- serves: open_commands (what the gateway still has to send a device)
CREATE INDEX commands_open ON commands (mn, id) WHERE status IN ('queued', 'sent', 'accepted');

-- Compliance engine: change tracking ----------------------------------------------------------------

-- Device-days (China time, by DataTime) with new measurements or revisions not yet evaluated.
-- `seq` (from dirty_seq, unique per write) identifies the last change: the engine deletes a
-- mark only if it is unchanged since it read it.
CREATE SEQUENCE dirty_seq AS BIGINT;
CREATE TABLE dirty_days (
    device_id BIGINT NOT NULL,
    day_start BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (device_id, day_start)
);
-- serves: dirty_days (the engine's work list, oldest day first)
CREATE INDEX dirty_days_oldest ON dirty_days (day_start, device_id);

-- Results -----------------------------------------------------------------------------------------
-- Keyed by the device's MN as text: what the engine computed for that MN, whatever happens to
-- the registry later.

CREATE TABLE aggregates (
    mn             TEXT COLLATE "C" NOT NULL,
    period         TEXT NOT NULL CHECK (period IN ('hour', 'day')),
    start_at       BIGINT NOT NULL,
    factor         TEXT COLLATE "C" NOT NULL,
    outlet         TEXT COLLATE "C" NOT NULL,
    mean           DOUBLE PRECISION,
    converted_mean DOUBLE PRECISION,
    min            DOUBLE PRECISION,
    max            DOUBLE PRECISION,
    valid_units    BIGINT NOT NULL,
    records        BIGINT NOT NULL,
    valid          BOOLEAN NOT NULL,
    reason         TEXT,
    limit_max      DOUBLE PRECISION,
    limit_min      DOUBLE PRECISION,
    exceeds        BOOLEAN NOT NULL,
    -- serves: a device's aggregates (outlet pages, 一企一档, save_evaluation's delete)
    PRIMARY KEY (mn, period, start_at, factor)
);
-- serves: the city's aggregates of a period and time range (overview, data_hours)
CREATE INDEX aggregates_time ON aggregates (period, start_at);
-- serves: exceeding hours / days of the city (overview, screen)
CREATE INDEX aggregates_exceeding ON aggregates (period, start_at) WHERE exceeds;

CREATE TABLE episodes (
    id            BIGSERIAL PRIMARY KEY,
    mn            TEXT COLLATE "C" NOT NULL,
    factor        TEXT COLLATE "C" NOT NULL,
    period        TEXT NOT NULL CHECK (period IN ('hour', 'day', 'month')),
    start_at      BIGINT NOT NULL,
    end_at        BIGINT NOT NULL,
    outlet        TEXT COLLATE "C" NOT NULL,
    periods       BIGINT NOT NULL,
    max_converted DOUBLE PRECISION NOT NULL,
    max_multiple  DOUBLE PRECISION NOT NULL,
    limit_value   DOUBLE PRECISION NOT NULL,
    open          BOOLEAN NOT NULL
);
-- serves: replacing the episodes that touch a window (end_at >= from), a device's episodes
CREATE INDEX episodes_mn_end ON episodes (mn, end_at);
-- serves: the city's episodes of a time range
CREATE INDEX episodes_start ON episodes (start_at);

CREATE TABLE findings (
    id        BIGSERIAL PRIMARY KEY,
    mn        TEXT COLLATE "C" NOT NULL,
    factor    TEXT COLLATE "C",
    kind      TEXT COLLATE "C" NOT NULL,
    start_at  BIGINT NOT NULL,
    end_at    BIGINT NOT NULL,
    detail    TEXT NOT NULL,
    detail_zh TEXT NOT NULL,
    open      BOOLEAN NOT NULL
);
-- serves: replacing the findings that touch a window; findings touching [ends_after, to)
CREATE INDEX findings_mn_end ON findings (mn, end_at);
-- serves: a device's findings by start (save_monthly's delete, the quality pages)
CREATE INDEX findings_mn_start ON findings (mn, start_at);
-- serves: the city's findings of a time range
CREATE INDEX findings_start ON findings (start_at);

CREATE TABLE emissions (
    mn       TEXT COLLATE "C" NOT NULL,
    period   TEXT NOT NULL CHECK (period IN ('hour', 'day', 'month')),
    start_at BIGINT NOT NULL,
    factor   TEXT COLLATE "C" NOT NULL,
    outlet   TEXT COLLATE "C" NOT NULL,
    kg       DOUBLE PRECISION NOT NULL,
    records  BIGINT NOT NULL,
    from_cou BOOLEAN NOT NULL,
    -- serves: a device's emissions (一企一档, save_evaluation / save_monthly's delete)
    PRIMARY KEY (mn, period, start_at, factor)
);
-- serves: the city's emissions of a period and time range
CREATE INDEX emissions_time ON emissions (period, start_at);

CREATE TABLE rates (
    mn                     TEXT COLLATE "C" NOT NULL,
    period                 TEXT NOT NULL CHECK (period IN ('day', 'month')),
    start_at               BIGINT NOT NULL,
    outlet                 TEXT COLLATE "C" NOT NULL,
    expected               BIGINT NOT NULL,
    received               BIGINT NOT NULL,
    valid                  BIGINT NOT NULL,
    transmission           DOUBLE PRECISION NOT NULL,
    validity               DOUBLE PRECISION NOT NULL,
    effective_transmission DOUBLE PRECISION NOT NULL,
    compliance             DOUBLE PRECISION,
    judged_hours           BIGINT NOT NULL,
    exceeding_hours        BIGINT NOT NULL,
    -- serves: a device's rates
    PRIMARY KEY (mn, period, start_at)
);
-- serves: the city's rates of a period (`fenhe compliance rates`, the overview)
CREATE INDEX rates_time ON rates (period, start_at);

-- Alarms ------------------------------------------------------------------------------------------

CREATE TABLE alarms (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT COLLATE "C" NOT NULL UNIQUE,   -- serves: alarms_to_reconcile by draft key
    mn          TEXT COLLATE "C" NOT NULL,
    outlet      TEXT COLLATE "C" NOT NULL,
    factor      TEXT COLLATE "C",
    kind        TEXT COLLATE "C" NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'serious', 'critical')),
    start_at    BIGINT NOT NULL,
    end_at      BIGINT NOT NULL,
    active      BOOLEAN NOT NULL,
    title_zh    TEXT NOT NULL,
    title_en    TEXT NOT NULL,
    detail_zh   TEXT NOT NULL,
    detail_en   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution  TEXT,
    raised_at   BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    resolved_at BIGINT
);
-- serves: alarms_to_reconcile's window half (mn, start in [from, to))
CREATE INDEX alarms_mn_start ON alarms (mn, start_at);
-- serves: the alarm list, newest first, and its pages
CREATE INDEX alarms_raised ON alarms (raised_at, id);
-- serves: a device's alarm list
CREATE INDEX alarms_mn_raised ON alarms (mn, raised_at, id);
-- serves: open alarms (the overview's counts, the screen)
CREATE INDEX alarms_open ON alarms (raised_at, id) WHERE status = 'open';

-- Engine state, leases ------------------------------------------------------------------------------

CREATE TABLE engine_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Named, expiring leases: a job runs only while its runner holds the job's lease.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Accounts, sessions, sign-ins, audit ----------------------------------------------------------------

CREATE TABLE departments (
    code           TEXT COLLATE "C" PRIMARY KEY,
    name_zh        TEXT NOT NULL,
    name_en        TEXT NOT NULL,
    service_office BOOLEAN NOT NULL DEFAULT false
);

INSERT INTO departments (code, name_zh, name_en, service_office) VALUES
    ('fgw',   '发改委',           'Development and Reform Commission', false),
    ('gxj',   '工信局',           'Industry and Information Technology Bureau', false),
    ('nyj',   '能源局',           'Energy Bureau', false),
    ('yjj',   '应急管理局',       'Emergency Management Bureau', false),
    ('zrzyj', '自然资源局',       'Natural Resources Bureau', false),
    ('zjj',   '住建局',           'Housing and Urban-Rural Development Bureau', false),
    ('xzsp',  '行政审批服务管理局', 'Administrative Approval Service Bureau', true);

CREATE TABLE users (
    id                  BIGSERIAL PRIMARY KEY,
    username            TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('admin', 'leader', 'bureau', 'department', 'enterprise')),
    department          TEXT COLLATE "C" REFERENCES departments (code),
    enterprise          TEXT COLLATE "C" REFERENCES enterprises (code),
    password_hash       TEXT NOT NULL,
    active              BOOLEAN NOT NULL DEFAULT true,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    CHECK ((role = 'department') = (department IS NOT NULL)),
    CHECK ((role = 'enterprise') = (enterprise IS NOT NULL))
);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    label        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,   -- serves: token_by_hash (every API call)
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
-- serves: a user's tokens
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,        -- serves: session (every page view)
    user_id      BIGINT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    peer         TEXT NOT NULL,
    csrf_secret  TEXT NOT NULL
);
-- serves: delete_user_sessions
CREATE INDEX sessions_user ON sessions (user_id);
-- serves: delete_expired_sessions (housekeeping)
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE sign_in_attempts (
    id       BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    address  TEXT NOT NULL,
    ok       BOOLEAN NOT NULL,
    at       BIGINT NOT NULL
);
-- serves: the throttle's count per account; per address
CREATE INDEX sign_in_attempts_username ON sign_in_attempts (username, at);
CREATE INDEX sign_in_attempts_address ON sign_in_attempts (address, at);
-- serves: forget_sign_ins (housekeeping)
CREATE INDEX sign_in_attempts_at ON sign_in_attempts (at);

-- Append-only: who changed what, when, from where, with the object before and after.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,   -- serves: the log newest first, paged by id cursor
    at          BIGINT NOT NULL,
    actor       TEXT COLLATE "C" NOT NULL,
    actor_role  TEXT NOT NULL,
    action      TEXT COLLATE "C" NOT NULL,
    object_kind TEXT COLLATE "C" NOT NULL,
    object_id   TEXT COLLATE "C" NOT NULL,
    before      JSONB,
    after       JSONB,
    peer        TEXT NOT NULL
);
-- serves: the log of one actor; of one kind of object
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_object ON audit_log (object_kind, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE demo_passwords (
    user_id  BIGINT PRIMARY KEY REFERENCES users (id),
    password TEXT NOT NULL
);
