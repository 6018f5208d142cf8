-- An API key may be bound to a caller identity ("Type:id", e.g.
-- "Service:billing"): its requests carry request_caller(Type{"id"}).
-- NULL: a key with no identity, as before.
ALTER TABLE api_keys ADD COLUMN caller text;
