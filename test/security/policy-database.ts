/**
 * The database the policy corpus runs against: a database of its own (`sqlwarden_policy`), rebuilt
 * on each run, with a canary secrets table, PII columns, a row-level security table, views over
 * all of them, inheritance and partitions, a function that reads the secrets, a schema that
 * shadows the main one, and quoted and Unicode names. The mapped role `sw_pc_reader` can SELECT
 * everything in it, so any refusal in the corpus is the policy's, not the engine's; `sw_pc_support`
 * has only what the support role needs, with row-level security by the `region` claim.
 */
import pg from 'pg'

export const POLICY_DB = 'sqlwarden_policy'
/** Appears only in pc_app.secrets (and the quoted/Unicode twins): never in an allowed result. */
export const SECRET_CANARY = 'CANARY-SECRET-7f3a'
/** Appears only in customers.email and customers.phone: never in a result for a masked role. */
export const PII_CANARY = 'pii-canary'

export function policyDatabaseUrl(baseUrl: string): string {
  const url = new URL(baseUrl)
  url.pathname = `/${POLICY_DB}`
  return url.toString()
}

const SETUP = `
CREATE SCHEMA pc_app;
CREATE SCHEMA pc_shadow;
CREATE TABLE pc_app.customers (id int PRIMARY KEY, name text NOT NULL, email text, phone text, region text NOT NULL);
INSERT INTO pc_app.customers VALUES
  (1, 'Ada Lovelace', 'ada.${PII_CANARY}@example.com', '+44 20 ${PII_CANARY} 0001', 'eu'),
  (2, 'Grace Hopper', 'grace.${PII_CANARY}@example.com', '+1 212 ${PII_CANARY} 0002', 'us'),
  (3, 'Al', NULL, NULL, 'eu');
CREATE TABLE pc_app.orders (id int PRIMARY KEY, customer_id int REFERENCES pc_app.customers, total numeric NOT NULL);
INSERT INTO pc_app.orders VALUES (10, 1, 12.50), (11, 2, 99.00), (12, 1, 3.25);
CREATE INDEX orders_total ON pc_app.orders (total);
CREATE INDEX customers_email ON pc_app.customers (email);
CREATE TABLE pc_app.secrets (id int, secret text);
INSERT INTO pc_app.secrets VALUES (1, '${SECRET_CANARY}');
CREATE TABLE pc_app."Secrets" (secret text);
INSERT INTO pc_app."Secrets" VALUES ('${SECRET_CANARY}-quoted');
CREATE TABLE pc_app."sécrets" (secret text);
INSERT INTO pc_app."sécrets" VALUES ('${SECRET_CANARY}-unicode');
ANALYZE pc_app.secrets;
-- A shadow schema: the same names, other data. Unqualified names resolve in pc_app only.
CREATE TABLE pc_shadow.orders (id int, total numeric);
INSERT INTO pc_shadow.orders VALUES (99, 0);
CREATE TABLE pc_shadow.customers (id int, secret text);
INSERT INTO pc_shadow.customers VALUES (1, '${SECRET_CANARY}-shadow');
-- Views.
CREATE VIEW pc_app.customer_names AS SELECT id, name, region FROM pc_app.customers;
CREATE VIEW pc_app.customer_contacts AS SELECT id, email FROM pc_app.customers;
CREATE VIEW pc_app.customer_rows AS SELECT c FROM pc_app.customers c;
CREATE VIEW pc_app.order_secrets AS SELECT o.id, s.secret FROM pc_app.orders o CROSS JOIN pc_app.secrets s;
CREATE VIEW pc_app.nested_names AS SELECT * FROM pc_app.customer_names;
CREATE VIEW pc_app.nested_secrets AS SELECT * FROM pc_app.order_secrets;
CREATE FUNCTION pc_app.peek() RETURNS text LANGUAGE sql STABLE AS $$ SELECT secret FROM pc_app.secrets LIMIT 1 $$;
CREATE FUNCTION pc_app.double_it(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$;
CREATE VIEW pc_app.peeking AS SELECT pc_app.peek() AS p;
CREATE VIEW pc_app.doubled AS SELECT id, pc_app.double_it(total) AS t FROM pc_app.orders;
-- Inheritance: reading the parent reads the child.
CREATE TABLE pc_app.events (id int, note text);
CREATE TABLE pc_app.private_events (secret text) INHERITS (pc_app.events);
INSERT INTO pc_app.events VALUES (1, 'public event');
INSERT INTO pc_app.private_events VALUES (2, 'private event', '${SECRET_CANARY}-child');
-- Partitions: reading the parent reads every partition.
CREATE TABLE pc_app.logs (id int, region text, line text) PARTITION BY LIST (region);
CREATE TABLE pc_app.logs_eu PARTITION OF pc_app.logs FOR VALUES IN ('eu');
CREATE TABLE pc_app.logs_us PARTITION OF pc_app.logs FOR VALUES IN ('us');
INSERT INTO pc_app.logs VALUES (1, 'eu', 'eu line'), (2, 'us', 'us line ${SECRET_CANARY}-partition');
-- Row-level security by claim.
CREATE TABLE pc_app.tickets (id int, region text, body text);
INSERT INTO pc_app.tickets VALUES (1, 'eu', 'eu ticket'), (2, 'us', 'us ticket'), (3, 'eu', 'eu ticket 2');
ALTER TABLE pc_app.tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_region ON pc_app.tickets TO sw_pc_support USING (region = current_setting('sqlwarden.claim.region', true));
CREATE POLICY everything ON pc_app.tickets TO sw_pc_reader USING (true);
ANALYZE;
GRANT USAGE ON SCHEMA pc_app, pc_shadow TO sw_pc_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA pc_app, pc_shadow TO sw_pc_reader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pc_app TO sw_pc_reader;
GRANT USAGE ON SCHEMA pc_app TO sw_pc_support;
GRANT SELECT ON pc_app.tickets, pc_app.orders TO sw_pc_support;
`

/** Recreates the policy corpus database and its roles; returns its URL. */
export async function setupPolicyDatabase(baseUrl: string): Promise<string> {
  const admin = new pg.Client({ connectionString: baseUrl })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${POLICY_DB} WITH (FORCE)`)
    await admin.query(`CREATE DATABASE ${POLICY_DB}`)
    for (const role of ['sw_pc_reader', 'sw_pc_support']) {
      const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
      if (exists.rowCount === 0) await admin.query(`CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOBYPASSRLS`)
    }
  } finally {
    await admin.end()
  }
  const url = policyDatabaseUrl(baseUrl)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    await db.query(SETUP)
  } finally {
    await db.end()
  }
  return url
}
