/**
 * Property: every tools/call through the MCP server produces exactly one audit record, whatever
 * the tool name, arguments or SQL, and the record's reason is the code the client received; when
 * the sink fails, the client gets ERR_AUDIT_UNAVAILABLE and no result. A real SDK Client talks to
 * the real server over the SDK's in-memory transport; the database is a fake driver.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Client } from '@modelcontextprotocol/client'
import { InMemoryTransport } from '@modelcontextprotocol/server'
import { AuditLog } from '../../../src/audit/audit-log.js'
import type { AuditSink, SinkState } from '../../../src/audit/audit-sink.js'
import type { SourceDriver } from '../../../src/exec/drivers/driver.js'
import { silentLogger } from '../../../src/log/logger.js'
import type { PipelineDeps } from '../../../src/pipeline/pipeline.js'
import { LOCAL_PRINCIPAL } from '../../../src/pipeline/request-context.js'
import { allowAllPolicy } from '../../../src/policy/compile-policy.js'
import { CatalogCache } from '../../../src/policy/function-policy.js'
import { createMcpServer } from '../../../src/server/create-mcp-server.js'
import { AnalysisCache } from '../../../src/sql/analysis-cache.js'
import { loadPostgresParser } from '../../../src/sql/parser/postgres-parser.js'
import { fail, ok } from '../../../src/util/result.js'

/** Keeps every line; fails on demand. */
class MemorySink implements AuditSink {
  readonly description = 'memory'
  readonly lines: string[] = []
  failing = false
  async open(): Promise<SinkState> {
    return { tail: null, tornTailBytes: 0 }
  }
  async append(lines: string): Promise<void> {
    if (this.failing) throw new Error('sink down')
    this.lines.push(...lines.split('\n').filter((l) => l !== ''))
  }
  shouldRotate(): boolean {
    return false
  }
  async rotate(): Promise<string> {
    return 'memory'
  }
  async recover(): Promise<SinkState> {
    return { tail: null, tornTailBytes: 0 }
  }
  async close(): Promise<void> {}
}

const notUsed = async () => fail('ERR_INTERNAL' as const)
const driver = {
  dialect: 'postgres',
  read: async () => ok({ columns: [{ name: 'x', type: 'integer' }], rows: [[1]], rowCount: 1, truncated: false, truncatedBy: null, bytes: 1 }),
  explain: async () => ok({ columns: [{ name: 'QUERY PLAN', type: 'json' }], rows: [[[{ Plan: {} }]]], rowCount: 1, truncated: false, truncatedBy: null, bytes: 1 }),
  listSchemas: async () => ok([]),
  listTables: async () => ok([]),
  describeTable: async () => ok(null),
  lookupFunctions: async () => ok([]),
  lookupOperators: async () => ok([]),
  lookupRelations: async (names: readonly unknown[]) => ok(names.map(() => null)),
  lookupTypes: async (names: readonly unknown[]) => ok(names.map(() => null)),
  write: notUsed,
  inspectRole: notUsed,
  close: async () => {},
} as unknown as SourceDriver

let client: Client
let sink: MemorySink
let rawServer: () => ReturnType<typeof createMcpServer>

before(async () => {
  await loadPostgresParser()
  sink = new MemorySink()
  const log = await AuditLog.open({
    sink,
    key: null,
    durability: 'write',
    configHash: 'c',
    policyHash: 'p',
    version: 'test',
    logger: silentLogger(),
  })
  const source = { name: 'main', kind: 'postgres' as const, driver, catalogCache: new CatalogCache(), searchPath: ['public'], allowFunctions: [] }
  const deps: PipelineDeps = {
    sources: { defaultSource: 'main', get: (n) => (n === 'main' ? source : undefined), names: () => ['main'], close: async () => {} },
    limits: { maxRows: 500, maxBytes: 524288, statementTimeoutMs: 30_000, lockTimeoutMs: 5_000, maxSqlLength: 2_000, maxSqlDepth: 100 },
    logger: silentLogger(),
    analysisCache: new AnalysisCache(),
    policy: allowAllPolicy(),
    audit: { log, content: { recordSql: false, recordParams: false, redact: [] } },
  }
  rawServer = () => createMcpServer({ deps, policy: deps.policy, logger: deps.logger, transport: 'stdio', principal: LOCAL_PRINCIPAL })
  const server = rawServer()
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await server.connect(serverSide)
  client = new Client({ name: 'property', version: '1' })
  await client.connect(clientSide)
})

const sqlArb = fc.oneof(
  fc.constantFrom('SELECT 1', 'SELECT $1', 'DELETE FROM t', 'SELECT pg_sleep(1)', "SELECT 'a' || 'b'", 'SELECT * FROM t', ';', '', 'SELEC', 'SELECT 1; SELECT 2'),
  fc.string({ maxLength: 80 }),
)
const argsArb = fc.oneof(
  fc.record({ sql: sqlArb }),
  fc.record({ sql: sqlArb, params: fc.array(fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)), { maxLength: 3 }) }),
  fc.record({ sql: sqlArb, max_rows: fc.integer({ min: -2, max: 2000 }) }),
  fc.record({ table: fc.string({ maxLength: 10 }) }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
)
const nameArb = fc.oneof(fc.constantFrom('query', 'explain', 'list_tables', 'list_schemas', 'describe_table'), fc.string({ maxLength: 20 }))

test('every call gets exactly one record, carrying the code the client got; a failing sink withholds the result', async () => {
  await fc.assert(
    fc.asyncProperty(nameArb, argsArb, fc.boolean(), fc.boolean(), async (name, args, sinkFails, withTrace) => {
      const before = sink.lines.length
      sink.failing = sinkFails && Math.random() < 0.3
      const failing = sink.failing
      const trace = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`
      const result = await client.callTool({ name, arguments: args as Record<string, unknown>, ...(withTrace ? { _meta: { traceparent: trace } } : {}) })
      sink.failing = false
      const code = (result._meta?.['sqlwarden/error'] as { code?: string } | undefined)?.code ?? null
      if (failing) {
        assert.equal(sink.lines.length, before, 'nothing written while the sink fails')
        assert.equal(code, 'ERR_AUDIT_UNAVAILABLE')
        assert.equal(result.structuredContent, undefined)
        return
      }
      assert.equal(sink.lines.length, before + 1, 'exactly one record')
      const record = JSON.parse(sink.lines[sink.lines.length - 1] as string) as Record<string, unknown>
      assert.equal(record['kind'], 'call')
      assert.equal(record['reason'], code)
      assert.equal(record['decision'] === 'allow', code === null)
      assert.equal(record['tool'], name.length > 256 ? `${name.slice(0, 256)}…` : name)
      assert.equal(record['trace_id'], withTrace ? 'ab'.repeat(16) : null)
      assert.equal(record['params'], undefined)
    }),
    { numRuns: 300 },
  )
})

test('a tools/call with malformed params (never reaching the handler) is audited and answered without echoing input', async () => {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await rawServer().connect(serverSide)
  const replies: Record<string, unknown>[] = []
  clientSide.onmessage = (m) => void replies.push(m as Record<string, unknown>)
  await clientSide.start()
  await clientSide.send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
  await clientSide.send({ jsonrpc: '2.0', method: 'notifications/initialized' })
  const before = sink.lines.length
  const malformed = [{ name: 'query', arguments: 'SELECT secret' }, { arguments: {} }, undefined, { name: 42 }, { name: 'query', arguments: [1] }]
  for (const [i, params] of malformed.entries()) {
    await clientSide.send({ jsonrpc: '2.0', id: 100 + i, method: 'tools/call', ...(params === undefined ? {} : { params }) } as never)
  }
  for (let i = 0; i < 50 && replies.filter((r) => Number(r['id']) >= 100).length < malformed.length; i += 1) await new Promise((r) => setTimeout(r, 10))
  const errors = replies.filter((r) => Number(r['id']) >= 100)
  assert.equal(errors.length, malformed.length)
  for (const e of errors) {
    const error = e['error'] as { code: number; message: string }
    assert.equal(error.code, -32602)
    assert.match(error.message, /^ERR_TOOL_INVALID_ARGUMENTS/)
    assert.doesNotMatch(error.message, /secret/)
  }
  const records = sink.lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.equal(records.length, malformed.length)
  for (const r of records) assert.deepEqual([r['decision'], r['reason'], r['stage']], ['deny', 'ERR_TOOL_INVALID_ARGUMENTS', 'input'])
})
