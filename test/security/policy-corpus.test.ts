/**
 * The policy corpus: `{as, sql, expect}` cases as data (test/security/policy-corpus/*.json),
 * through the real pipeline (phase A, analysis, function policy, phase B, rewrite, execution) on a
 * real PostgreSQL database with a canary secrets table, PII columns and a row-level security table
 * (policy-database.ts). The mapped role can SELECT everything there, so each refusal is the
 * policy's own; the `open` role (no phase B rules, same database role) is the control that shows
 * the engine would have returned the secret.
 *
 * For every case, whatever it expects: the secret canary never appears in what a restricted role
 * gets back, and the PII canary never appears in what a masking role gets back. A refusal is
 * always ERR_POLICY_DENIED (or the named code) and looks the same whether the object exists.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { parse as parseYaml } from 'yaml'
import { createPostgresDriver } from '../../src/exec/drivers/postgres/postgres-driver.js'
import { silentLogger } from '../../src/log/logger.js'
import { runToolCall, type PipelineDeps } from '../../src/pipeline/pipeline.js'
import { createPrincipal, createRequestContext, type Principal } from '../../src/pipeline/request-context.js'
import type { SourceHandle } from '../../src/pipeline/source-handle.js'
import { compilePolicy } from '../../src/policy/compile-policy.js'
import { CatalogCache } from '../../src/policy/function-policy.js'
import { policySchema } from '../../src/policy/policy-schema.js'
import { AnalysisCache } from '../../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../../src/sql/parser/postgres-parser.js'
import { isErrorCode } from '../../src/errors/error-codes.js'
import { requirePostgres } from '../helpers/postgres-env.js'
import { PII_CANARY, SECRET_CANARY, setupPolicyDatabase } from './policy-database.js'

export const CORPUS_POLICY = `
version: 1
principals:
  alice: [analyst]
  nate: [narrow]
  sam: [support]
  olga: [open]
  vic: [viewer]
  mia: [analyst, narrow]
  tess: [eu_desk]
  sue: [eu_desk]
roles:
  eu_desk:
    sources:
      main:
        dbRole: sw_pc_support
        tables: { allow: [pc_app.tickets] }
        settings: { region: eu }
  analyst:
    sources:
      main:
        dbRole: sw_pc_reader
        schemas: { allow: [pc_app] }
        tables: { deny: [pc_app.secrets, pc_app.Secrets, pc_app.order_secrets, pc_app.nested_secrets, pc_app.peeking, pc_app.private_events] }
        columns: { pc_app.customers: { deny: [phone] } }
        masks:
          pc_app.customers: { email: hash, name: { partial: { keepFirst: 1 } } }
  narrow:
    sources:
      main:
        dbRole: sw_pc_reader
        tables: { allow: [pc_app.orders, pc_app.doubled] }
        functions: [pc_app.double_it]
  support:
    sources:
      main:
        dbRole: sw_pc_support
        tables: { allow: [pc_app.tickets] }
  viewer:
    sources:
      main:
        dbRole: sw_pc_reader
        tables: { allow: [pc_app.customer_names, pc_app.customer_contacts, pc_app.customer_rows, pc_app.nested_names, pc_app.customers, pc_app.logs, pc_app.logs_eu, pc_app.events] }
        masks: { pc_app.customers: { email: redact } }
  open:
    sources:
      main:
        dbRole: sw_pc_reader
`

const PRINCIPALS: Record<string, Principal> = {
  alice: createPrincipal('alice', []),
  nate: createPrincipal('nate', []),
  sam: createPrincipal('sam', [], { region: 'eu' }),
  olga: createPrincipal('olga', []),
  vic: createPrincipal('vic', []),
  mia: createPrincipal('mia', []),
  tess: createPrincipal('tess', []),
  sue: createPrincipal('sue', [], { region: 'us' }),
}
/** Roles whose results must never hold the PII canary (masked or denied PII columns). */
const MASKED = new Set(['alice', 'vic', 'mia', 'nate', 'sam', 'tess', 'sue'])
/** Roles whose results must never hold the secret canary. */
const RESTRICTED = new Set(['alice', 'nate', 'sam', 'vic', 'mia', 'tess', 'sue'])

const caseSchema = z
  .object({
    description: z.string().min(1),
    as: z.enum(Object.keys(PRINCIPALS) as [string, ...string[]]),
    tool: z.enum(['query', 'explain', 'list_schemas', 'list_tables', 'describe_table']).default('query'),
    sql: z.string().optional(),
    params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    args: z.record(z.string(), z.unknown()).optional(),
    expect: z.string().refine((v) => v === 'allow' || isErrorCode(v), 'allow or an error code'),
    /** Exact rows (query) for an allowed case. */
    rows: z.array(z.array(z.unknown())).optional(),
    /** Strings the JSON of the result must contain / must not contain. */
    contains: z.array(z.string()).optional(),
    absent: z.array(z.string()).optional(),
  })
  .strict()
type PolicyCase = z.output<typeof caseSchema> & { readonly file: string }

function loadCases(): PolicyCase[] {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'policy-corpus')
  const out: PolicyCase[] = []
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const parsed = z.object({ cases: z.array(caseSchema).min(1) }).strict().parse(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')))
    for (const c of parsed.cases) out.push({ ...c, file })
  }
  return out
}

const cases = loadCases()
let deps: PipelineDeps

before(async () => {
  const baseUrl = await requirePostgres()
  await loadPostgresParser()
  const url = await setupPolicyDatabase(baseUrl)
  const driver = createPostgresDriver({
    connectionString: url,
    poolSize: 2,
    searchPath: ['pc_app'],
    lockTimeoutMs: 2_000,
    logger: silentLogger(),
    cancel: 'protocol',
  })
  const source: SourceHandle = {
    name: 'main',
    kind: 'postgres',
    driver,
    catalogCache: new CatalogCache(),
    searchPath: ['pc_app'],
    allowFunctions: [],
  }
  deps = {
    sources: { defaultSource: 'main', get: (n) => (n === 'main' ? source : undefined), names: () => ['main'], close: () => driver.close() },
    limits: { maxRows: 100, maxBytes: 256 * 1024, statementTimeoutMs: 5_000, lockTimeoutMs: 2_000, maxSqlLength: 20_000, maxSqlDepth: 100 },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy: compilePolicy(policySchema.parse(parseYaml(CORPUS_POLICY))),
  }
})

after(async () => {
  await deps?.sources.close()
})

describe('policy corpus', () => {
  test('has cases for every bypass class the issue names', () => {
    const files = new Set(cases.map((c) => c.file.replace(/\.json$/, '')))
    for (const needed of ['views', 'functions', 'xml', 'search-path', 'identifiers', 'inheritance-partitions', 'catalogs', 'masks', 'columns', 'rls', 'listing', 'existence']) {
      assert.ok(files.has(needed), `policy-corpus/${needed}.json`)
    }
  })

  for (const c of cases) {
    test(`${c.file}: ${c.description}`, async () => {
      const args = c.args ?? (c.sql !== undefined ? { sql: c.sql, ...(c.params ? { params: c.params } : {}) } : {})
      const outcome = await runToolCall(deps, {
        name: c.tool,
        args,
        ctx: createRequestContext({ principal: PRINCIPALS[c.as] as Principal, transport: 'stdio' }),
      })
      const json = JSON.stringify(outcome.ok ? outcome.output : { code: outcome.code, subject: outcome.subject ?? null })
      if (c.expect === 'allow') {
        assert.ok(outcome.ok, `expected allow, got ${json}`)
      } else {
        assert.ok(!outcome.ok, `expected ${c.expect}, got ${json.slice(0, 400)}`)
        assert.equal(outcome.code, c.expect, json)
      }
      if (c.rows !== undefined && outcome.ok) assert.deepEqual((outcome.output as { rows: unknown }).rows, c.rows)
      for (const s of c.contains ?? []) assert.ok(json.includes(s), `result contains ${s}: ${json.slice(0, 400)}`)
      for (const s of c.absent ?? []) assert.ok(!json.includes(s), `result must not contain ${s}: ${json.slice(0, 400)}`)
      if (RESTRICTED.has(c.as)) assert.ok(!json.includes(SECRET_CANARY), `secret canary leaked: ${json.slice(0, 400)}`)
      if (MASKED.has(c.as)) assert.ok(!json.includes(PII_CANARY), `PII canary leaked: ${json.slice(0, 400)}`)
    })
  }
})
