-- API keys, stored as the SHA-256 of the secret: a database dump holds no usable key.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    project     TEXT NOT NULL,
    admin       BIGINT NOT NULL,      -- 0 or 1
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
