-- The outbox table. Services insert one row per event in the same transaction as their change.
-- The double-brace placeholders are replaced by quoted identifiers from the configuration
-- (RELAY_OUTBOX_SCHEMA, RELAY_OUTBOX_TABLE, RELAY_PUBLICATION).
CREATE SCHEMA IF NOT EXISTS {{schema}};

CREATE TABLE IF NOT EXISTS {{schema}}.{{table}} (
  id             uuid        PRIMARY KEY,
  aggregate_type text        NOT NULL,
  aggregate_id   text        NOT NULL,
  event_type     text        NOT NULL,
  payload        jsonb       NOT NULL,
  headers        jsonb,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- For replay by time range and for retention.
CREATE INDEX IF NOT EXISTS {{table_created_at_index}} ON {{schema}}.{{table}} (created_at);
