-- Measurements packed by record: one row per device × CN × DataTime × frame that stored new
-- factors or revisions, instead of one row per factor. A minute packet of ten factors was ten
-- B-tree inserts on the ingest writer's one thread; now it is one, of about half the bytes.
--   seq        0 for the first frame that stored this (device, CN, DataTime), then 1, 2, … for
--              each later one that added or revised factors
--   frame_id   the frame it came with (not a foreign key: frames may be pruned sooner)
--   n          how many factors `factors` holds (for counting without unpacking)
--   factors    the factors, packed (crates/store/src/sqlite/packed.rs): per factor its id, its
--              revision (0, then +1 per changed value of the same factor), the code as sent when
--              it is not the factor code, the numbers and the flags
-- The rows of the old table are converted by the store right after this migration
-- (crates/store/src/sqlite/legacy.rs), in the same run, and the old table is dropped.
CREATE TABLE measurement_sets (
    device_id   INTEGER NOT NULL,
    cn          INTEGER NOT NULL,
    data_time   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    frame_id    INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    factors     BLOB NOT NULL,
    PRIMARY KEY (device_id, cn, data_time, seq)
) STRICT, WITHOUT ROWID;

ALTER TABLE measurements RENAME TO legacy_measurements;
