DROP INDEX IF EXISTS facts_id;
CREATE INDEX IF NOT EXISTS facts_arg_ids ON facts USING gin (arg_ids);
