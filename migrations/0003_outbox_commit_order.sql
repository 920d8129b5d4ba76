-- Commit order for `replay`: the transaction that wrote each row (tx_id) and the row's place in
-- it (tx_seq). With track_commit_timestamp = on, replay orders rows by the commit time of tx_id,
-- then tx_id, then tx_seq; created_at is only the transaction's start.
--
-- The columns are added without a default and the defaults set afterwards, so PostgreSQL does
-- not rewrite the table: rows written before this migration keep NULL in both (replay sends
-- them first, in created_at, id order: every one committed before this migration did, since
-- ALTER TABLE waits for the transactions that wrote them). Each ALTER TABLE takes an ACCESS
-- EXCLUSIVE lock for a moment: inserts into the outbox wait for it.
ALTER TABLE {{schema}}.{{table}} ADD COLUMN IF NOT EXISTS tx_id xid8;
ALTER TABLE {{schema}}.{{table}} ADD COLUMN IF NOT EXISTS tx_seq bigint;

CREATE SEQUENCE IF NOT EXISTS {{schema}}.{{tx_seq_sequence}} AS bigint
  OWNED BY {{schema}}.{{table}}.tx_seq;

-- pg_current_xact_id() is the top-level transaction's id, also inside a savepoint; an INSERT
-- assigns one anyway, so the default costs nothing more.
ALTER TABLE {{schema}}.{{table}}
  ALTER COLUMN tx_id SET DEFAULT pg_current_xact_id(),
  ALTER COLUMN tx_seq SET DEFAULT nextval({{tx_seq_sequence_regclass}}::regclass);

-- nextval needs USAGE on the sequence: every role that may insert into the outbox now gets it,
-- so that the services writing events keep working. A role granted INSERT later needs
-- GRANT USAGE ON SEQUENCE as well (the README says so).
DO $$
DECLARE
  writer text;
BEGIN
  FOR writer IN
    SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
      FROM pg_class AS c
      CROSS JOIN LATERAL aclexplode(c.relacl) AS a
      LEFT JOIN pg_roles AS r ON r.oid = a.grantee
     WHERE c.oid = {{table_regclass}}::regclass AND a.privilege_type = 'INSERT'
  LOOP
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %s', {{tx_seq_sequence_regclass}}, writer);
  END LOOP;
END
$$;
