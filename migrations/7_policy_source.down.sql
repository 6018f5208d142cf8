DROP INDEX IF EXISTS policies_created_at;
ALTER TABLE policies
    DROP COLUMN IF EXISTS source,
    DROP COLUMN IF EXISTS commit_hash,
    DROP COLUMN IF EXISTS test_count;
