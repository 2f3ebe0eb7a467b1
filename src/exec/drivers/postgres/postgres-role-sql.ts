/**
 * The role report behind `inspectRole()` (startup safety check and operator warnings). One row:
 * attributes, every role reachable through pg_auth_members, and the privileges that would let this
 * role change state if the read-only transaction were missing (I2's second gate): INSERT, UPDATE,
 * DELETE, TRUNCATE on relations, UPDATE/USAGE on sequences (setval/nextval), CREATE on schemas
 * and on the database. Runs with search_path = pg_catalog (see postgres-catalog.ts).
 */
const NON_SYSTEM = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'`

const qualified = `quote_ident(n.nspname) || '.' || quote_ident(c.relname)`

export const ROLE_SQL = `SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb, r.rolreplication,
  ARRAY(
    WITH RECURSIVE m(roleid) AS (
      SELECT am.roleid FROM pg_auth_members am WHERE am.member = r.oid
      UNION
      SELECT am.roleid FROM pg_auth_members am JOIN m ON am.member = m.roleid
    )
    SELECT g.rolname::text FROM m JOIN pg_roles g ON g.oid = m.roleid ORDER BY 1
  ),
  ARRAY(
    SELECT w.privilege FROM (
      SELECT p.priv || ' ON ' || ${qualified} AS privilege
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(priv)
      WHERE c.relkind IN ('r', 'p', 'v', 'f') AND ${NON_SYSTEM}
        AND CASE WHEN p.priv IN ('INSERT', 'UPDATE') THEN has_any_column_privilege(c.oid, p.priv)
                 ELSE has_table_privilege(c.oid, p.priv) END
      UNION ALL
      SELECT p.priv || ' ON SEQUENCE ' || ${qualified}
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN unnest(ARRAY['UPDATE', 'USAGE']) AS p(priv)
      WHERE c.relkind = 'S' AND ${NON_SYSTEM} AND has_sequence_privilege(c.oid, p.priv)
      UNION ALL
      SELECT 'CREATE ON SCHEMA ' || quote_ident(n.nspname)
      FROM pg_namespace n
      WHERE n.nspname !~ '^pg_(toast_)?temp_' AND n.nspname <> 'pg_toast' AND has_schema_privilege(n.oid, 'CREATE')
      UNION ALL
      SELECT 'CREATE ON DATABASE ' || quote_ident(current_database())
      WHERE has_database_privilege(current_database(), 'CREATE')
    ) w
    ORDER BY 1
  ),
  current_setting('server_version')
FROM pg_roles r
WHERE r.rolname = current_user`
