CREATE INDEX IF NOT EXISTS facts_predicate ON facts (predicate, arity);
