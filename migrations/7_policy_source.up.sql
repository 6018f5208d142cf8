-- Where each policy version came from (upload, file, git), the git commit
-- of a version from git, and how many test blocks it passed when saved.
-- Versions saved before this migration have source '' (not recorded).
ALTER TABLE policies
    ADD COLUMN source     text    NOT NULL DEFAULT '',
    ADD COLUMN commit_hash text    NOT NULL DEFAULT '',
    ADD COLUMN test_count integer NOT NULL DEFAULT 0;
CREATE INDEX policies_created_at ON policies (created_at);
