-- Stored facts, the revision counter and the change log.

-- One row: the latest committed revision. Writers update it first in their
-- transaction, so its row lock serializes them and revisions commit in order.
CREATE TABLE castellan_head (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    revision bigint  NOT NULL
);
INSERT INTO castellan_head (id, revision) VALUES (true, 0);

-- One row per committed batch.
CREATE TABLE revisions (
    revision     bigint      PRIMARY KEY,
    committed_at timestamptz NOT NULL DEFAULT now()
);

-- The stored facts. fact_key is the SHA-256 of the canonical encoding of
-- the fact (predicate, then each argument's type and id, length-prefixed):
-- a fact is stored at most once, whatever the size of its arguments. id
-- orders facts by insertion (a store loads them in that order); it has no
-- index of its own, to keep bulk inserts cheap.
CREATE TABLE facts (
    fact_key  bytea     PRIMARY KEY,
    id        bigserial NOT NULL,
    predicate text      NOT NULL,
    arity     integer   NOT NULL,
    arg_types text[]    NOT NULL,
    arg_ids   text[]    NOT NULL,
    revision  bigint    NOT NULL
);
CREATE INDEX facts_predicate ON facts (predicate, arity);
-- Lookups by any bound argument (wildcard deletes): arg_ids @> ARRAY[id].
CREATE INDEX facts_arg_ids ON facts USING gin (arg_ids);

-- The change log: every fact a batch stored (op 1) or removed (op 2), in
-- commit order (revision, then id).
CREATE TABLE changes (
    revision  bigint    NOT NULL,
    id        bigserial NOT NULL,
    op        smallint  NOT NULL CHECK (op IN (1, 2)),
    predicate text      NOT NULL,
    arg_types text[]    NOT NULL,
    arg_ids   text[]    NOT NULL,
    PRIMARY KEY (revision, id)
);
