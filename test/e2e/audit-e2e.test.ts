/**
 * The audit trail end to end: the real CLI on stdio (and HTTP with API keys), driven by the SDK
 * client. Every call gets exactly one record, whatever its outcome (allowed, refused at each stage,
 * an unknown tool, bad arguments, an HTTP refusal before any tool call), with no parameter values
 * and no literals; `sqlwarden audit verify` accepts the file and reports a tampered one;
 * `audit search` and `audit stats` read it.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { hashApiKey } from '../../src/auth/api-keys.js'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML, E2E_SCHEMA } from '../helpers/e2e-fixture.js'
import { assertBuilt, CLI, runCli, startHttpCli, writeTempConfig } from '../helpers/cli-process.js'
import { call } from './tool-scenarios.js'

const records = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
const calls = (file: string) => records(file).filter((r) => r['kind'] === 'call')

describe('audit over stdio', () => {
  let client: Client
  let file = ''
  const env = () => ({ ...process.env, E2E_DB_URL: readerUrl() }) as Record<string, string>

  before(async () => {
    assertBuilt()
    await setupE2eDatabase()
    file = join(mkdtempSync(join(tmpdir(), 'sw-audit-e2e-')), 'audit.jsonl')
    const config = writeTempConfig(`${SHOP_SOURCE_YAML}`)
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, '--config', config, '--audit', file], env: env(), stderr: 'pipe' })
    client = new Client({ name: 'e2e-audit', version: '2.0.0' })
    await client.connect(transport)
  })

  after(async () => {
    await client?.close()
  })

  test('one record per call, whatever the outcome, with a stable reason and stage', async () => {
    const before = calls(file).length
    await call(client, 'list_tables', {})
    await call(client, 'query', { sql: `SELECT id FROM ${E2E_SCHEMA}.customers WHERE name = 'Ada' AND id = $1`, params: [42] })
    await call(client, 'query', { sql: 'DELETE FROM x' })
    await call(client, 'query', { sql: "SELECT pg_read_file('/etc/passwd')" })
    await call(client, 'no_such_tool', {})
    await call(client, 'query', { sql: 'SELECT 1', unexpected: true })
    await call(client, 'query', { sql: 'SELECT pg_sleep(5)', max_rows: 1 })
    const got = calls(file).slice(before)
    assert.equal(got.length, 7)
    const [list, read, write, fn, unknown, bad] = got as Record<string, unknown>[] as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]
    assert.equal(list['decision'], 'allow')
    assert.equal(list['tool'], 'list_tables')
    assert.equal(read['decision'], 'allow')
    assert.equal(read['principal'], 'local')
    assert.equal(read['auth_method'], 'stdio')
    assert.deepEqual(read['client'], { name: 'e2e-audit', version: '2.0.0' })
    assert.equal(read['statement_class'], 'select')
    assert.equal(read['param_count'], 1)
    assert.match(String(read['fingerprint']), /^[0-9a-f]{16}$/)
    assert.doesNotMatch(String(read['normalized_sql']), /Ada|42/)
    assert.equal(read['params'], undefined)
    assert.equal(read['sql'], undefined)
    assert.equal(typeof read['rows'], 'number')
    assert.deepEqual([write['decision'], write['reason'], write['stage']], ['deny', 'ERR_SQL_NOT_READ_ONLY', 'analysis'])
    assert.deepEqual([fn['decision'], fn['reason'], fn['stage']], ['deny', 'ERR_SQL_FORBIDDEN_FUNCTION', 'analysis'])
    assert.deepEqual([unknown['tool'], unknown['reason'], unknown['stage']], ['no_such_tool', 'ERR_TOOL_UNKNOWN', 'tool'])
    assert.deepEqual([bad['reason'], bad['stage']], ['ERR_TOOL_INVALID_ARGUMENTS', 'input'])
    assert.ok(!readFileSync(file, 'utf8').includes('/etc/passwd'), 'no raw SQL unless recordSql is on')
  })

  test('audit verify accepts the trail, and reports a modified record with its position', async () => {
    const ok = await runCli(['audit', 'verify', file])
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /^OK .*audit\.jsonl: \d+ records/m)
    const copy = join(mkdtempSync(join(tmpdir(), 'sw-audit-tamper-')), 'audit.jsonl')
    const lines = readFileSync(file, 'utf8').split('\n')
    assert.match(lines[2] ?? '', /"principal":"local"/)
    lines[2] = lines[2]?.replace('"principal":"local"', '"principal":"mallory"') ?? ''
    writeFileSync(copy, lines.join('\n'))
    const broken = await runCli(['audit', 'verify', copy])
    assert.equal(broken.code, 1)
    assert.match(broken.stdout, /BROKEN .*: modified at audit\.jsonl:3 \(seq 2\)/)
  })

  test('audit search filters, and audit stats summarises', async () => {
    const search = await runCli(['audit', 'search', file, '--decision', 'deny'])
    assert.equal(search.code, 0, search.stderr)
    assert.match(search.stdout, /ERR_SQL_NOT_READ_ONLY/)
    assert.doesNotMatch(search.stdout, /\ballow\b/)
    const json = await runCli(['audit', 'search', file, '--tool', 'no_such_tool', '--json'])
    assert.equal(json.stdout.trim().split('\n').length, 1)
    assert.equal(JSON.parse(json.stdout).reason, 'ERR_TOOL_UNKNOWN')
    const stats = await runCli(['audit', 'stats', file, '--json'])
    const s = JSON.parse(stats.stdout) as { calls: number; denials_by_reason: Record<string, number> }
    assert.ok(s.calls >= 7)
    assert.equal(s.denials_by_reason['ERR_TOOL_UNKNOWN'], 1)
  })
})

describe('audit over HTTP', () => {
  test('a refused request is audited before the 401, and an authenticated call carries its method', async () => {
    assertBuilt()
    await setupE2eDatabase()
    const file = join(mkdtempSync(join(tmpdir(), 'sw-audit-http-')), 'audit.jsonl')
    const key = 'swk_audit_e2e_key_0123456789abcdef0123456789'
    const config = writeTempConfig(
      `${SHOP_SOURCE_YAML}auth:\n  apiKeys:\n    - principal: ann\n      roles: [analyst]\n      hash: ${hashApiKey(key)}\n`,
    )
    const server = await startHttpCli(['--config', config, '--http', '127.0.0.1:0', '--audit', file], { E2E_DB_URL: readerUrl() })
    try {
      const denied = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' }, body: '{}' })
      assert.equal(denied.status, 401)
      const refusal = calls(file).at(-1) as Record<string, unknown>
      assert.deepEqual([refusal['transport'], refusal['decision'], refusal['reason'], refusal['stage'], refusal['principal']], ['http', 'deny', 'ERR_AUTH_INVALID', 'authentication', null])
      const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client')
      const client = new Client({ name: 'e2e-audit-http', version: '1.0.0' })
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }))
      await call(client, 'query', { sql: 'SELECT 1' })
      await client.close()
      const last = calls(file).at(-1) as Record<string, unknown>
      assert.deepEqual([last['principal'], last['auth_method'], last['transport'], last['decision']], ['ann', 'api_key', 'http', 'allow'])

      // A principal's context cannot be claimed by headers or _meta: identity comes from the
      // verified credential only.
      const forged = new Client({ name: 'e2e-forged', version: '1.0.0' })
      await forged.connect(
        new StreamableHTTPClientTransport(new URL(server.url), {
          requestInit: {
            headers: {
              authorization: `Bearer ${key}`,
              'x-sqlwarden-principal': 'admin',
              'x-forwarded-user': 'admin',
              'x-remote-user': 'admin',
              'x-auth-request-user': 'admin',
              'x-principal': 'admin',
            },
          },
        }),
      )
      await forged.callTool({ name: 'query', arguments: { sql: 'SELECT 1' }, _meta: { principal: 'admin', 'sqlwarden/principal': 'admin', roles: ['admin'] } })
      await forged.close()
      const claimed = calls(file).at(-1) as Record<string, unknown>
      assert.deepEqual([claimed['principal'], claimed['roles']], ['ann', ['analyst']])
      // Without the key, the same forged headers are a refusal.
      const noKey = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-sqlwarden-principal': 'ann', 'x-forwarded-user': 'ann' }, body: '{}' })
      assert.equal(noKey.status, 401)
      assert.ok(!readFileSync(file, 'utf8').includes(key))
    } finally {
      await server.stop()
    }
    assert.equal((await runCli(['audit', 'verify', file])).code, 0)
  })
})
