-- Compliance engine: change tracking, results and alarms.
--
-- Result tables are keyed by the device's MN as text (not devices.id): they hold what the engine
-- computed for that MN, whatever happens to the registry later. `start_at` / `end_at` are epoch
-- ms; periods ('hour', 'day', 'month') are China time. Factors are codes as text.

-- Change tracking ---------------------------------------------------------------------------------

-- A single counter row; write_batch takes the next value once per batch.
CREATE TABLE dirty_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;
INSERT INTO dirty_seq (id, seq) VALUES (1, 0);

-- Device-days (China time, by DataTime) with new measurements or revisions not yet evaluated.
-- `seq` is the batch that last touched the day: the engine deletes a row only if it is unchanged.
CREATE TABLE dirty_days (
    device_id INTEGER NOT NULL,
    day_start INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (device_id, day_start)
) STRICT, WITHOUT ROWID;
CREATE INDEX dirty_days_oldest ON dirty_days (day_start, device_id);

-- Results -----------------------------------------------------------------------------------------

-- Hourly and daily aggregates (Aggregate).
CREATE TABLE aggregates (
    mn             TEXT    NOT NULL,
    period         TEXT    NOT NULL CHECK (period IN ('hour', 'day')),
    start_at       INTEGER NOT NULL,
    factor         TEXT    NOT NULL,
    outlet         TEXT    NOT NULL,
    mean           REAL,
    converted_mean REAL,
    min            REAL,
    max            REAL,
    valid_units    INTEGER NOT NULL,
    records        INTEGER NOT NULL,
    valid          INTEGER NOT NULL CHECK (valid IN (0, 1)),
    reason         TEXT,                     -- Invalidity name
    limit_max      REAL,
    limit_min      REAL,
    exceeds        INTEGER NOT NULL CHECK (exceeds IN (0, 1)),
    PRIMARY KEY (mn, period, start_at, factor)
) STRICT, WITHOUT ROWID;
CREATE INDEX aggregates_time ON aggregates (period, start_at);
CREATE INDEX aggregates_exceeding ON aggregates (period, start_at) WHERE exceeds = 1;

-- Exceedance episodes (Episode). Looked up by the ranges they touch: (mn, end_at) finds those
-- ending after a window's start.
CREATE TABLE episodes (
    id            INTEGER PRIMARY KEY,
    mn            TEXT    NOT NULL,
    factor        TEXT    NOT NULL,
    period        TEXT    NOT NULL CHECK (period IN ('hour', 'day', 'month')),
    start_at      INTEGER NOT NULL,
    end_at        INTEGER NOT NULL,
    outlet        TEXT    NOT NULL,
    periods       INTEGER NOT NULL,
    max_converted REAL    NOT NULL,
    max_multiple  REAL    NOT NULL,
    limit_value   REAL    NOT NULL,
    open          INTEGER NOT NULL CHECK (open IN (0, 1))
) STRICT;
CREATE INDEX episodes_mn_end ON episodes (mn, end_at);
CREATE INDEX episodes_start ON episodes (start_at);

-- Data-quality findings (Finding); factor NULL for device-wide findings.
CREATE TABLE findings (
    id        INTEGER PRIMARY KEY,
    mn        TEXT    NOT NULL,
    factor    TEXT,
    kind      TEXT    NOT NULL,              -- FindingKind name
    start_at  INTEGER NOT NULL,
    end_at    INTEGER NOT NULL,
    detail    TEXT    NOT NULL,
    detail_zh TEXT    NOT NULL,
    open      INTEGER NOT NULL CHECK (open IN (0, 1))
) STRICT;
CREATE INDEX findings_mn_end ON findings (mn, end_at);
CREATE INDEX findings_mn_start ON findings (mn, start_at);
CREATE INDEX findings_start ON findings (start_at);

-- Emission quantities (Emission) per hour, day and month.
CREATE TABLE emissions (
    mn       TEXT    NOT NULL,
    period   TEXT    NOT NULL CHECK (period IN ('hour', 'day', 'month')),
    start_at INTEGER NOT NULL,
    factor   TEXT    NOT NULL,
    outlet   TEXT    NOT NULL,
    kg       REAL    NOT NULL,
    records  INTEGER NOT NULL,
    from_cou INTEGER NOT NULL CHECK (from_cou IN (0, 1)),
    PRIMARY KEY (mn, period, start_at, factor)
) STRICT, WITHOUT ROWID;
CREATE INDEX emissions_time ON emissions (period, start_at);

-- Transmission and compliance rates (Rate) per day and month.
CREATE TABLE rates (
    mn                     TEXT    NOT NULL,
    period                 TEXT    NOT NULL CHECK (period IN ('day', 'month')),
    start_at               INTEGER NOT NULL,
    outlet                 TEXT    NOT NULL,
    expected               INTEGER NOT NULL,
    received               INTEGER NOT NULL,
    valid                  INTEGER NOT NULL,
    transmission           REAL    NOT NULL,
    validity               REAL    NOT NULL,
    effective_transmission REAL    NOT NULL,
    compliance             REAL,
    judged_hours           INTEGER NOT NULL,
    exceeding_hours        INTEGER NOT NULL,
    PRIMARY KEY (mn, period, start_at)
) STRICT, WITHOUT ROWID;
CREATE INDEX rates_time ON rates (period, start_at);

-- Alarms ------------------------------------------------------------------------------------------

-- One row per draft key, never deleted. The columns after `resolved_at` are lifecycle; review and
-- explanation workflows add their own columns (ALTER TABLE … ADD COLUMN) or tables keyed by id.
CREATE TABLE alarms (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    mn          TEXT    NOT NULL,
    outlet      TEXT    NOT NULL,
    factor      TEXT,
    kind        TEXT    NOT NULL,            -- 'exceedance' or a FindingKind name
    severity    TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'serious', 'critical')),
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    title_zh    TEXT    NOT NULL,
    title_en    TEXT    NOT NULL,
    detail_zh   TEXT    NOT NULL,
    detail_en   TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution  TEXT,                        -- 'cleared', 'withdrawn'; NULL while open
    raised_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    resolved_at INTEGER
) STRICT;
CREATE INDEX alarms_mn_open ON alarms (mn, start_at) WHERE status = 'open';
CREATE INDEX alarms_raised ON alarms (raised_at, id);
CREATE INDEX alarms_mn_raised ON alarms (mn, raised_at, id);

-- Engine state ------------------------------------------------------------------------------------

-- Named values the engine keeps between runs (watermarks).
CREATE TABLE engine_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
