-- API keys. Only the SHA-256 hash of a key's secret is stored.
CREATE TABLE api_keys (
    id         text        PRIMARY KEY,
    name       text        NOT NULL DEFAULT '',
    scope      text        NOT NULL,
    hash       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
