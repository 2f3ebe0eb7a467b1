/**
 * The PostgreSQL audit sink on the real server: an append-only table whose writer role can INSERT
 * and SELECT but not UPDATE, DELETE or TRUNCATE (the database refuses, and a trigger refuses even
 * the owner), one chain per replica that continues across restarts, verification from the table,
 * and a sink that refuses to start when its role could rewrite records.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { AuditLog } from '../../../src/audit/audit-log.js'
import { PostgresAuditSink, readAuditTable } from '../../../src/audit/postgres-audit-sink.js'
import { verifyLines } from '../../../src/audit/verify-audit.js'
import { silentLogger } from '../../../src/log/logger.js'
import { withAdmin } from '../../helpers/postgres-env.js'
import { callEvent, createAuditTable } from '../../helpers/audit-events.js'

describe('postgres audit sink', () => {
  let url = ''
  let writerUrl = ''
  let table = ''
  let drop: () => Promise<void> = async () => {}

  before(async () => {
    ;({ url, writerUrl, table, drop } = await createAuditTable('sw_audit'))
  })

  after(() => drop())

  const open = (replica: string, sinkUrl = writerUrl) =>
    AuditLog.open({
      sink: new PostgresAuditSink({ url: sinkUrl, table, replica }),
      key: null,
      durability: 'fsync',
      configHash: 'c'.repeat(64),
      policyHash: 'p'.repeat(64),
      version: 'test',
      logger: silentLogger(),
    })

  const verifyTable = async () => {
    const chains = await readAuditTable(url, table)
    return [...chains].map(([chain, records]) =>
      verifyLines(records.map((text, i) => ({ file: chain, line: i + 1, text, unterminated: false })), [chain], { key: null }),
    )
  }

  test('replicas append their own chains, which continue across restarts and verify', async () => {
    const a = await open('replica-a')
    const b = await open('replica-b')
    const written = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).record(callEvent(i))))
    assert.ok(written.every(Boolean))
    await a.close()
    const again = await open('replica-a')
    assert.ok(await again.record(callEvent(99)))
    await again.close()
    await b.close()
    const reports = await verifyTable()
    assert.equal(reports.length, 2)
    for (const r of reports) assert.ok(r.ok, JSON.stringify(r.break))
    assert.deepEqual(reports.map((r) => r.records).sort(), [21, 23])
  })

  test('the writer role can insert but not update, delete or truncate; the owner cannot either', async () => {
    const client = new pg.Client({ connectionString: writerUrl })
    await client.connect()
    try {
      for (const sql of [`UPDATE ${table} SET record = '{}'`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
        await assert.rejects(client.query(sql), (e: { code?: string }) => e.code === '42501', sql)
      }
    } finally {
      await client.end()
    }
    await withAdmin(url, async (c) => {
      await assert.rejects(c.query(`UPDATE ${table} SET record = '{}'`), /append-only/)
      await assert.rejects(c.query(`DELETE FROM ${table}`), /append-only/)
      await assert.rejects(c.query(`TRUNCATE ${table}`), /append-only/)
    })
  })

  test('two writers on one chain (a misconfiguration) never break it: a colliding write fails its call', async () => {
    const first = await open('replica-c')
    const second = await open('replica-c')
    // The second start record took the seq the first would write next: the primary key refuses it.
    assert.equal(await first.record(callEvent(1)), false)
    // After a failure a writer continues from the table's tail, so the chain stays one chain.
    assert.ok(await first.record(callEvent(2)))
    assert.equal(await second.record(callEvent(3)), false)
    assert.ok(await second.record(callEvent(4)))
    await first.close()
    await second.close()
    for (const r of await verifyTable()) assert.ok(r.ok, JSON.stringify(r.break))
  })

  test('a sink whose role could rewrite records refuses to start', async () => {
    await assert.rejects(open('replica-admin', url), /can UPDATE, DELETE or TRUNCATE/)
  })
})
