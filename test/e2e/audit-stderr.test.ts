/**
 * The stderr audit sink (for containers): records go to stderr, one JSON line each, interleaved
 * with the log lines, and they still form a chain that verifies.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { verifyLines } from '../../src/audit/verify-audit.js'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'
import { assertBuilt, CLI, writeTempConfig } from '../helpers/cli-process.js'
import { call } from './tool-scenarios.js'

test('audit sink stderr: one chained record per call on stderr, verifiable', async () => {
  assertBuilt()
  await setupE2eDatabase()
  const config = writeTempConfig(`${SHOP_SOURCE_YAML}audit:\n  sink: stderr\n`)
  let stderr = ''
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, '--config', config],
    env: { ...process.env, E2E_DB_URL: readerUrl() } as Record<string, string>,
    stderr: 'pipe',
  })
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  const client = new Client({ name: 'e2e-audit-stderr', version: '1' })
  await client.connect(transport)
  await call(client, 'query', { sql: 'SELECT 1' })
  await call(client, 'query', { sql: 'DELETE FROM x' })
  await call(client, 'no_such_tool', {})
  await client.close()
  const lines = stderr.split('\n').filter((l) => l.startsWith('{"alg":') || l.includes('"chain":'))
  const records = lines.filter((l) => { try { return typeof (JSON.parse(l) as { seq?: unknown }).seq === 'number' } catch { return false } })
  const calls = records.filter((l) => l.includes('"kind":"call"'))
  assert.equal(calls.length, 3)
  const report = verifyLines(records.map((text, i) => ({ file: 'stderr', line: i + 1, text, unterminated: false })), ['stderr'], { key: null })
  assert.ok(report.ok, JSON.stringify(report.break))
  assert.equal(report.records, 4)
})
