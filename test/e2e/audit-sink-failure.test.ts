/**
 * The audit sink failing under a running server: calls are refused with ERR_AUDIT_UNAVAILABLE and
 * return no result while the sink cannot write, and are served again once it can; the chain still
 * verifies. Two sinks: a JSONL file on a full disk (a 256 KiB tmpfs, filled up; mounting it needs
 * root, which the project machine and its CI have), and the PostgreSQL table behind a TCP proxy
 * that is stopped and started.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, openSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { AuditLog } from '../../src/audit/audit-log.js'
import { PostgresAuditSink, readAuditTable } from '../../src/audit/postgres-audit-sink.js'
import { verifyLines } from '../../src/audit/verify-audit.js'
import { silentLogger } from '../../src/log/logger.js'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'
import { assertBuilt, CLI, runCli, writeTempConfig } from '../helpers/cli-process.js'
import { callEvent, createAuditTable } from '../helpers/audit-events.js'
import { startTcpProxy } from '../integration/postgres/tcp-proxy.js'
import { call, textOf } from './tool-scenarios.js'

describe('audit file on a full disk', () => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'sw-audit-tmpfs-'))
  let client: Client
  const file = join(mountPoint, 'audit', 'audit.jsonl')

  before(async () => {
    assertBuilt()
    await setupE2eDatabase()
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint])
    mkdirSync(join(mountPoint, 'audit'))
    const config = writeTempConfig(`${SHOP_SOURCE_YAML}`)
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, '--config', config, '--audit', file],
      env: { ...process.env, E2E_DB_URL: readerUrl() } as Record<string, string>,
      stderr: 'pipe',
    })
    client = new Client({ name: 'e2e-audit-full-disk', version: '1.0.0' })
    await client.connect(transport)
  })

  after(async () => {
    await client?.close()
    try {
      execFileSync('umount', [mountPoint])
    } catch {
      // Already unmounted.
    }
  })

  test('calls fail closed while the disk is full, and resume when space returns', async () => {
    const ok = await call(client, 'query', { sql: 'SELECT 1 AS one' })
    assert.equal(ok.isError, undefined, textOf(ok))
    // Fill the filesystem.
    const filler = join(mountPoint, 'filler')
    const fd = openSync(filler, 'w')
    try {
      for (;;) writeSync(fd, Buffer.alloc(4096, 1))
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC')
    } finally {
      closeSync(fd)
    }
    // The audit file's last page may still hold a few records: call until the disk is really full.
    let first = -1
    for (let i = 0; i < 500 && first < 0; i += 1) {
      const r = await call(client, 'query', { sql: 'SELECT 2 AS two' })
      if (r.isError === true) {
        assert.match(textOf(r), /^ERR_AUDIT_UNAVAILABLE/)
        first = i
      }
    }
    assert.ok(first >= 0, 'a full disk refuses calls')
    for (let i = 0; i < 3; i += 1) {
      const refused = await call(client, 'query', { sql: 'SELECT 2 AS two' })
      assert.equal(refused.isError, true)
      assert.match(textOf(refused), /^ERR_AUDIT_UNAVAILABLE/)
      assert.equal(refused.structuredContent, undefined, 'no result without its record')
    }
    rmSync(filler)
    const back = await call(client, 'query', { sql: 'SELECT 3 AS three' })
    assert.equal(back.isError, undefined, textOf(back))
    assert.deepEqual(back.structuredContent?.rows, [[3]])
    const verified = await runCli(['audit', 'verify', file])
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
  })
})

describe('audit table behind a database that goes away', () => {
  let url = ''
  let writerUrl = ''
  let table = ''
  let drop: () => Promise<void> = async () => {}

  before(async () => {
    ;({ url, writerUrl, table, drop } = await createAuditTable('sw_audit_fault'))
  })

  after(() => drop())

  test('records fail while the database is unreachable, and the chain resumes after', async () => {
    const target = new URL(url)
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432))
    const viaProxy = new URL(writerUrl)
    viaProxy.host = `127.0.0.1:${proxy.port}`
    const log = await AuditLog.open({
      sink: new PostgresAuditSink({ url: viaProxy.toString(), table, replica: 'r1' }),
      key: null,
      durability: 'fsync',
      configHash: 'c'.repeat(64),
      policyHash: 'p'.repeat(64),
      version: 'test',
      logger: silentLogger(),
      appendTimeoutMs: 2_000,
    })
    try {
      assert.ok(await log.record(callEvent(1)))
      await proxy.shut()
      assert.equal(await log.record(callEvent(2)), false)
      assert.equal(await log.record(callEvent(3)), false)
      await proxy.reopen()
      let back = false
      const deadline = Date.now() + 10_000
      while (!back && Date.now() < deadline) {
        back = await log.record(callEvent(4))
        if (!back) await new Promise((r) => setTimeout(r, 200))
      }
      assert.ok(back, 'served again within 10 s of the database returning')
      assert.ok(await log.record(callEvent(5)))
    } finally {
      await log.close()
      await proxy.shut()
    }
    const chains = await readAuditTable(url, table)
    const lines = (chains.get('r1') ?? []).map((text, i) => ({ file: 'r1', line: i + 1, text, unterminated: false }))
    const report = verifyLines(lines, ['r1'], { key: null })
    assert.ok(report.ok, JSON.stringify(report.break))
  })
})

