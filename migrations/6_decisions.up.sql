-- The decision log on PostgreSQL: one hash chain per replica (a server
-- process, or a configured name that continues across restarts). line is
-- the record exactly as hashed (text, not jsonb, which would reorder its
-- keys); the other columns are copied out of it for queries.
CREATE TABLE decisions (
    replica        text        NOT NULL,
    seq            bigint      NOT NULL,
    kind           text        NOT NULL,
    time           timestamptz NOT NULL,
    caller         text        NOT NULL DEFAULT '',
    actor_type     text        NOT NULL DEFAULT '',
    actor_id       text        NOT NULL DEFAULT '',
    action         text        NOT NULL DEFAULT '',
    resource_type  text        NOT NULL DEFAULT '',
    resource_id    text        NOT NULL DEFAULT '',
    result         text        NOT NULL DEFAULT '',
    policy_version bigint      NOT NULL DEFAULT 0,
    line           text        NOT NULL,
    PRIMARY KEY (replica, seq)
);
CREATE INDEX decisions_time ON decisions (time DESC, replica DESC, seq DESC) WHERE kind = 'decision';
CREATE INDEX decisions_actor ON decisions (actor_type, actor_id, time DESC) WHERE kind = 'decision';
