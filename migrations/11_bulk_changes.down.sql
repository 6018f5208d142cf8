-- Back to one change-log row per inserted fact: every bulk revision's
-- changes are written again in their order, with the facts of each bulk
-- row (those still stored, and those deleted since, from their op 4 rows).
CREATE TEMPORARY TABLE bulk_expanded AS
SELECT revision, op, predicate, arg_types, arg_ids, valid_from, valid_until, pos, sub FROM (
    SELECT c.revision, c.op, c.predicate, c.arg_types, c.arg_ids, c.valid_from, c.valid_until, c.id AS pos, 0::bigint AS sub
    FROM changes c WHERE c.op IN (1, 2) AND c.revision IN (SELECT revision FROM changes WHERE op = 3)
    UNION ALL
    SELECT c.revision, 1, c.predicate, c.arg_types, c.arg_ids, c.valid_from, c.valid_until, c.bulk_id, c.fact_id
    FROM changes c WHERE c.op = 4
    UNION ALL
    SELECT c.revision, 1, f.predicate, f.arg_types, f.arg_ids, f.valid_from, f.valid_until, c.id, f.id
    FROM changes c JOIN facts f ON f.id BETWEEN c.first_id AND c.last_id WHERE c.op = 3
) x;
DELETE FROM changes WHERE revision IN (SELECT revision FROM bulk_expanded) OR op IN (3, 4);
INSERT INTO changes (revision, op, predicate, arg_types, arg_ids, valid_from, valid_until)
SELECT revision, op, predicate, arg_types, arg_ids, valid_from, valid_until FROM bulk_expanded ORDER BY revision, pos, sub;
DROP TABLE bulk_expanded;
ALTER TABLE changes ALTER COLUMN predicate SET NOT NULL,
    ALTER COLUMN arg_types SET NOT NULL,
    ALTER COLUMN arg_ids SET NOT NULL;
ALTER TABLE changes DROP COLUMN first_id, DROP COLUMN last_id, DROP COLUMN bulk_id, DROP COLUMN fact_id;
ALTER TABLE changes DROP CONSTRAINT IF EXISTS changes_op_check;
ALTER TABLE changes ADD CONSTRAINT changes_op_check CHECK (op IN (1, 2));
