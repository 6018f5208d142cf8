-- The key change log: every API key created (op 1) or deleted (op 2), so
-- that every server holds the keys in memory and follows their changes like
-- facts (authentication needs no database round trip, a deletion reaches
-- every replica within the follow lag). Writers lock the table, so versions
-- commit in order and a follower that has read up to version N never misses
-- a later commit with a smaller version. Keys created before this migration
-- have no entry: a server loads the keys table whole at start, then follows
-- the log from its highest version.
CREATE TABLE key_changes (
    version    bigint      PRIMARY KEY,
    key_id     text        NOT NULL,
    op         smallint    NOT NULL CHECK (op IN (1, 2)),
    changed_at timestamptz NOT NULL DEFAULT now()
);
