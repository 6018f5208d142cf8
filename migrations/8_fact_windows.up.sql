-- Validity windows of facts: a fact holds at the instants t with
-- valid_from <= t < valid_until; NULL is unbounded on that side. The change
-- log carries the window of each insert, so that followers replicate it.
ALTER TABLE facts ADD COLUMN valid_from timestamptz, ADD COLUMN valid_until timestamptz;
ALTER TABLE changes ADD COLUMN valid_from timestamptz, ADD COLUMN valid_until timestamptz;
-- Expiry (store/postgres Expire) finds the facts whose window has ended.
CREATE INDEX facts_valid_until ON facts (valid_until) WHERE valid_until IS NOT NULL;
