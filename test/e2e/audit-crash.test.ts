/**
 * Crash safety of the audit trail: the real CLI on stdio under load (8 calls in flight), killed
 * with SIGKILL at a random moment, 20 times over the same audit file. Each call carries a unique
 * W3C traceparent in `_meta`, which its record keeps. After every kill the file verifies (a torn
 * last line is allowed and is recovered by the next start), and every result the client received
 * has its record: the record is written before the result leaves.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { rotatedFiles } from '../../src/audit/jsonl-file-sink.js'
import { readChainLines, verifyLines } from '../../src/audit/verify-audit.js'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML, E2E_SCHEMA } from '../helpers/e2e-fixture.js'
import { assertBuilt, CLI, writeTempConfig } from '../helpers/cli-process.js'

const ROUNDS = 20
const IN_FLIGHT = 8

test(`kill -9 under load, ${ROUNDS} times: the trail verifies and every received result has its record`, { timeout: 240_000 }, async () => {
  assertBuilt()
  await setupE2eDatabase()
  const file = join(mkdtempSync(join(tmpdir(), 'sw-audit-crash-')), 'audit.jsonl')
  // Small rotation, so kills also land around rotations.
  const config = writeTempConfig(`${SHOP_SOURCE_YAML}audit:\n  file: ${file}\n  rotate: { maxBytes: 65536 }\n`)
  const received = new Set<string>()
  let tornTails = 0

  for (let round = 0; round < ROUNDS; round += 1) {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, '--config', config],
      env: { ...process.env, E2E_DB_URL: readerUrl() } as Record<string, string>,
      stderr: 'pipe',
    })
    const client = new Client({ name: 'e2e-audit-crash', version: '1.0.0' })
    await client.connect(transport)
    const pid = transport.pid
    assert.ok(pid !== null && pid !== undefined)
    let stop = false
    const worker = async () => {
      while (!stop) {
        const trace = randomBytes(16).toString('hex')
        try {
          const r = await client.callTool({
            name: 'query',
            arguments: { sql: `SELECT id, name FROM ${E2E_SCHEMA}.customers WHERE id = $1`, params: [1 + (received.size % 100)] },
            _meta: { traceparent: `00-${trace}-${randomBytes(8).toString('hex')}-01` },
          })
          if (r.isError !== true) received.add(trace)
        } catch {
          return // the server died
        }
      }
    }
    const before = received.size
    const workers = Array.from({ length: IN_FLIGHT }, worker)
    // Under load first (results coming back), then a kill at a random moment.
    while (received.size === before) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)))
    process.kill(pid, 'SIGKILL')
    stop = true
    await Promise.allSettled(workers)
    await client.close().catch(() => undefined)

    const files = [...(await rotatedFiles(file)), file].filter((f) => existsSync(f))
    const report = verifyLines(readChainLines(files), files, { key: null })
    assert.ok(report.ok, `round ${round}: ${JSON.stringify(report.break)}`)
    if (report.tornTail !== null) tornTails += 1
  }

  const files = [...(await rotatedFiles(file)), file].filter((f) => existsSync(f))
  const traces = new Set<string>()
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      try {
        const r = JSON.parse(line) as { trace_id?: string }
        if (typeof r.trace_id === 'string') traces.add(r.trace_id)
      } catch {
        // a torn line
      }
    }
  }
  const missing = [...received].filter((t) => !traces.has(t))
  assert.ok(received.size > ROUNDS * 10, `load was applied (${received.size} results)`)
  assert.deepEqual(missing, [], 'results received without a record')
  const starts = files.flatMap((f) => readFileSync(f, 'utf8').split('\n')).filter((l) => l.includes('"kind":"start"')).length
  assert.equal(starts, ROUNDS)
  void tornTails
})
