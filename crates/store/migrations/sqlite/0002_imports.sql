-- Registry import attempts, successful or refused: a refused file is on record with every problem.
CREATE TABLE imports (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,           -- epoch ms
    files    TEXT    NOT NULL,           -- JSON array of the file names given
    ok       INTEGER NOT NULL CHECK (ok IN (0, 1)),
    summary  TEXT    NOT NULL,
    problems TEXT    NOT NULL            -- JSON array of "file:line: field: message"
) STRICT;
