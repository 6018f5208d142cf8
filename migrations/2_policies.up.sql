-- Policy versions and which one is live. Every activation (an upload or a
-- rollback) is recorded; the live version is the latest activation.
CREATE TABLE policies (
    version    bigint      PRIMARY KEY,
    files      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL DEFAULT ''
);

CREATE TABLE policy_activations (
    id           bigserial   PRIMARY KEY,
    version      bigint      NOT NULL REFERENCES policies (version),
    activated_at timestamptz NOT NULL DEFAULT now()
);
