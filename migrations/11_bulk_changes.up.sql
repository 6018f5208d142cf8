-- One change-log row per bulk insert instead of a copy of every fact.
-- A batch stored with COPY takes a block of consecutive facts ids and logs
-- one row, op 3, naming the block (first_id .. last_id): its inserted facts
-- are the facts rows with those ids. When a later statement deletes such a
-- fact while its bulk row is still in the log, it logs, besides its
-- delete (op 2), the fact as the bulk revision inserted it (op 4, at the
-- bulk row's revision, bulk_id naming the bulk row and fact_id the fact's
-- id), so that a reader of the log sees the same inserts whenever it reads.
-- Readers order a revision's changes by (id, or bulk_id for op 4; then the
-- fact's id within a bulk insert).
ALTER TABLE changes DROP CONSTRAINT IF EXISTS changes_op_check;
ALTER TABLE changes ADD CONSTRAINT changes_op_check CHECK (op IN (1, 2, 3, 4));
ALTER TABLE changes
    ADD COLUMN first_id bigint,
    ADD COLUMN last_id  bigint,
    ADD COLUMN bulk_id  bigint,
    ADD COLUMN fact_id  bigint;
-- Op 3 rows have no fact of their own.
ALTER TABLE changes ALTER COLUMN predicate DROP NOT NULL,
    ALTER COLUMN arg_types DROP NOT NULL,
    ALTER COLUMN arg_ids DROP NOT NULL;
