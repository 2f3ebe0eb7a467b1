/**
 * A private database for the live corpus run: the shop tables the must-allow cases read (in
 * public, as a user's database would have them), the canary schema the must-refuse cases aim at,
 * and user-defined functions and operators of every kind the function policy must judge from the
 * real catalog. Rebuilt on every run.
 */
import pg from 'pg'

export const CORPUS_DB = 'sqlwarden_corpus'
export const CANARY_FILES = ['/tmp/sqlwarden-canary-copy', '/tmp/sqlwarden-canary-lo', '/tmp/sqlwarden-canary-program']

export function corpusDatabaseUrl(baseUrl: string): string {
  const url = new URL(baseUrl)
  url.pathname = `/${CORPUS_DB}`
  return url.toString()
}

export async function setupCorpusDatabase(baseUrl: string): Promise<string> {
  const server = new pg.Client({ connectionString: baseUrl })
  await server.connect()
  try {
    await server.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${CORPUS_DB}' AND pid <> pg_backend_pid()`)
    await server.query(`DROP DATABASE IF EXISTS ${CORPUS_DB}`)
    await server.query(`CREATE DATABASE ${CORPUS_DB}`)
  } finally {
    await server.end()
  }
  const url = corpusDatabaseUrl(baseUrl)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    await db.query(SETUP_SQL)
  } finally {
    await db.end()
  }
  return url
}

const SETUP_SQL = `
CREATE TABLE customers (
  id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, phone text, region text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
COMMENT ON TABLE customers IS 'People who buy';
CREATE TABLE products (
  id int PRIMARY KEY, name text NOT NULL, category text NOT NULL, price numeric(10,2) NOT NULL,
  stock int NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (
  id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), product_id int NOT NULL REFERENCES products(id),
  quantity int NOT NULL, total numeric(12,2) NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX orders_customer_idx ON orders (customer_id);
INSERT INTO customers SELECT g, 'Customer ' || g, 'c' || g || '@x.test', '555-' || (1000 + g),
  (ARRAY['north','south','east','west'])[1 + g % 4], now() - g * interval '1 day' FROM generate_series(1, 200) g;
INSERT INTO products SELECT g, 'Product ' || g, (ARRAY['tools','toys','food'])[1 + g % 3], g * 1.5, g FROM generate_series(1, 30) g;
INSERT INTO orders SELECT g, 1 + g % 200, 1 + g % 30, 1 + g % 5, (g % 97) * 1.25, (ARRAY['paid','shipped','cancelled'])[1 + g % 3],
  now() - (g % 60) * interval '1 day' FROM generate_series(1, 1000) g;
CREATE VIEW order_summary AS SELECT customer_id, count(*) AS n, sum(total) AS spent FROM orders GROUP BY customer_id;

CREATE SCHEMA canary;
CREATE TABLE canary.items (id int PRIMARY KEY, note text NOT NULL);
INSERT INTO canary.items VALUES (1, 'one'), (2, 'two'), (3, 'three');
CREATE TABLE canary.secrets (id int PRIMARY KEY, secret text NOT NULL);
INSERT INTO canary.secrets VALUES (1, 'canary-secret-value');
CREATE SEQUENCE canary.seq;
CREATE VIEW canary.v AS SELECT * FROM canary.items;
CREATE MATERIALIZED VIEW canary.mv AS SELECT * FROM canary.items;

-- User functions and operators the function policy must judge from the catalog.
CREATE FUNCTION public.customer_label(int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'customer ' || $1 $$;
CREATE FUNCTION public.net_total(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 0.8 $$;
CREATE FUNCTION public.audit_touch() RETURNS int LANGUAGE sql VOLATILE AS $$ UPDATE canary.items SET note = 'touched' RETURNING 1 $$;
CREATE FUNCTION public.audit_touch(customers) RETURNS int LANGUAGE sql VOLATILE AS $$ UPDATE canary.items SET note = 'touched' RETURNING 1 $$;
CREATE FUNCTION public.secdef_lookup(int) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER AS $$ SELECT secret FROM canary.secrets WHERE id = $1 $$;
CREATE PROCEDURE public.do_work(int, text) LANGUAGE sql AS $$ DELETE FROM canary.items $$;
CREATE FUNCTION canary.reset_items() RETURNS void LANGUAGE sql VOLATILE AS $$ DELETE FROM canary.items $$;
CREATE FUNCTION public.kill_all(int) RETURNS boolean LANGUAGE sql VOLATILE AS $$ SELECT pg_terminate_backend($1) $$;
CREATE OPERATOR public.!!! (RIGHTARG = int, FUNCTION = public.kill_all);
CREATE FUNCTION canary.plus(int, int) RETURNS int LANGUAGE sql VOLATILE AS $$ SELECT $1 + $2 $$;
CREATE OPERATOR canary.+ (LEFTARG = int, RIGHTARG = int, FUNCTION = canary.plus);
`
