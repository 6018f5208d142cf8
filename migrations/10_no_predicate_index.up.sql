-- Cheaper bulk writes: the (predicate, arity) index is dropped. It cost
-- about a sixth of the database's work per inserted fact (a btree on a
-- text column, compared under the database's collation, in which every
-- fact of a predicate has the same key). A delete by a pattern now finds
-- the keys of the facts it matches in the store's in-memory index (which
-- holds every stored fact) and deletes by fact_key; only a pattern that
-- matches very many facts and binds no argument's id scans the table.
DROP INDEX IF EXISTS facts_predicate;
