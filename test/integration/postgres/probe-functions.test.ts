/**
 * The catalog probe list is complete against the real pg_proc: every built-in on the reviewed
 * allowlist that takes a relation (regclass), a name-resolving reg* type, or resolves a relation,
 * type or function name given as text (to_reg*, has_*_privilege, *_is_visible) is refused under
 * phase B rules, unless reviewed here as no probe. A new PostgreSQL version adding such a function
 * fails this test until someone decides.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isAllowedBuiltinFunction } from '../../../src/sql/rules/postgres-builtin-functions.js'
import { CATALOG_PROBE_FUNCTIONS } from '../../../src/sql/rules/postgres-probe-functions.js'
import { requirePostgres, withAdmin } from '../../helpers/postgres-env.js'

/** Allowlisted built-ins with such an argument that answer nothing about a named object. */
const REVIEWED_NOT_PROBES: ReadonlyMap<string, string> = new Map([
  ['pg_get_userbyid', 'role name by OID: roles are not relations, and role names are not policy objects'],
  ['regtypeout', 'output of a reg* value already resolved'],
  ...['ts_headline', 'to_tsquery', 'ts_lexize', 'phraseto_tsquery', 'jsonb_to_tsvector', 'plainto_tsquery', 'ts_debug', 'json_to_tsvector', 'to_tsvector', 'websearch_to_tsquery'].map(
    (name): [string, string] => [name, 'takes a text search configuration or dictionary (regconfig/regdictionary): not a relation, not a policy object'],
  ),
])

test('every allowlisted built-in that resolves relation or object names is a catalog probe', async () => {
  const url = await requirePostgres()
  const rows = await withAdmin(url, async (c) =>
    (
      await c.query<{ proname: string }>(`SELECT DISTINCT p.proname FROM pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND (EXISTS (SELECT 1 FROM unnest(p.proargtypes) t
                 WHERE t IN ('regclass'::regtype, 'regproc'::regtype, 'regprocedure'::regtype, 'regtype'::regtype,
                             'regnamespace'::regtype, 'regoper'::regtype, 'regoperator'::regtype, 'regrole'::regtype,
                             'regcollation'::regtype, 'regconfig'::regtype, 'regdictionary'::regtype))
               OR p.proname ~ '^(to_reg|has_.*_privilege$|pg_.*_is_visible$|pg_get_.*def$|pg_relation_|pg_partition_)')`)
    ).rows.map((r) => r.proname),
  )
  assert.ok(rows.length > 30, 'the catalog query found the reg* functions')
  const missing = rows.filter((name) => isAllowedBuiltinFunction(name) && !CATALOG_PROBE_FUNCTIONS.has(name) && !REVIEWED_NOT_PROBES.has(name))
  assert.deepEqual(missing, [], 'allowlisted built-ins that probe the catalog but are not on the probe list')
})
