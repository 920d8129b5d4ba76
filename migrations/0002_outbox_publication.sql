-- A publication on the outbox table alone, inserts only: the relay's slot decodes nothing else,
-- and the deletes of retention never reach Kafka.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = {{publication_literal}}) THEN
    EXECUTE format('CREATE PUBLICATION %I FOR TABLE %I.%I WITH (publish = %L)',
                   {{publication_literal}}, {{schema_literal}}, {{table_literal}}, 'insert');
  END IF;
END
$$;
