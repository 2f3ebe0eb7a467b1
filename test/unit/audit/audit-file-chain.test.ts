/**
 * The JSONL audit chain end to end on real files: write-ahead append, restart continuation, torn
 * tails, rotation, and one tampering test per kind of break that `audit verify` must report.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../../src/log/logger.js'
import { AuditLog } from '../../../src/audit/audit-log.js'
import { callEvent } from '../../helpers/audit-events.js'
import { JsonlFileSink, rotatedFiles } from '../../../src/audit/jsonl-file-sink.js'
import { readChainLines, verifyLines, type VerifyReport } from '../../../src/audit/verify-audit.js'

const KEY = Buffer.from('k'.repeat(32))

async function openLog(file: string, options: { key?: Buffer | null; rotateBytes?: number } = {}) {
  return AuditLog.open({
    sink: new JsonlFileSink({ file, durability: 'write', rotateBytes: options.rotateBytes ?? 0 }),
    key: options.key ?? null,
    durability: 'write',
    configHash: 'c'.repeat(64),
    policyHash: 'p'.repeat(64),
    version: 'test',
    logger: silentLogger(),
  })
}

async function files(file: string): Promise<string[]> {
  return [...(await rotatedFiles(file)), file]
}

async function verify(file: string, key: Buffer | null = null): Promise<VerifyReport> {
  const list = await files(file)
  return verifyLines(readChainLines(list), list, { key })
}

async function writeCalls(file: string, n: number, options: { key?: Buffer | null; rotateBytes?: number } = {}) {
  const log = await openLog(file, options)
  const results = await Promise.all(Array.from({ length: n }, (_, i) => log.record(callEvent(i))))
  assert.ok(results.every(Boolean))
  await log.close()
}

const fresh = () => join(mkdtempSync(join(tmpdir(), 'sw-audit-')), 'audit.jsonl')
const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
const rewrite = (file: string, lines: string[]) => writeFileSync(file, `${lines.join('\n')}\n`)

describe('audit file chain', () => {
  test('a start record, then one record per call, and the chain verifies', async () => {
    const file = fresh()
    await writeCalls(file, 20)
    const lines = linesOf(file)
    assert.equal(lines.length, 21)
    assert.equal(JSON.parse(lines[0] as string).kind, 'start')
    const r = await verify(file)
    assert.ok(r.ok, JSON.stringify(r.break))
    assert.equal(r.records, 21)
  })

  test('concurrent calls are group-committed into one unbroken chain', async () => {
    const file = fresh()
    const log = await openLog(file)
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.record(callEvent(i))))
    await log.close()
    assert.ok(results.every(Boolean))
    const seqs = linesOf(file).map((l) => JSON.parse(l).seq)
    assert.deepEqual(seqs, Array.from({ length: 201 }, (_, i) => i))
    assert.ok((await verify(file)).ok)
  })

  test('after a restart a new segment links to the last record on disk', async () => {
    const file = fresh()
    await writeCalls(file, 3)
    await writeCalls(file, 3)
    const records = linesOf(file).map((l) => JSON.parse(l))
    assert.deepEqual(records.map((r) => r.kind), ['start', 'call', 'call', 'call', 'start', 'call', 'call', 'call'])
    assert.equal(records[4].prev, records[3].hash)
    assert.equal(new Set(records.map((r) => r.chain)).size, 1)
    assert.ok((await verify(file)).ok)
  })

  test('a torn last line is reported as a torn tail; after a restart it is recovered', async () => {
    const file = fresh()
    await writeCalls(file, 3)
    appendFileSync(file, '{"v":1,"chain":"x","se')
    const torn = await verify(file)
    assert.ok(torn.ok)
    assert.deepEqual(torn.tornTail, { file: 'audit.jsonl', bytes: 22 })
    await writeCalls(file, 2)
    const after = await verify(file)
    assert.ok(after.ok, JSON.stringify(after.break))
    assert.equal(after.recoveredTornLines, 1)
    const start = linesOf(file).map((l) => { try { return JSON.parse(l) } catch { return null } }).filter((r) => r?.kind === 'start')[1]
    assert.equal(start.torn_tail_bytes, 22)
  })

  test('rotation by size keeps the chain across files', async () => {
    const file = fresh()
    const log = await openLog(file, { rotateBytes: 2_000 })
    for (let i = 0; i < 30; i += 1) assert.ok(await log.record(callEvent(i)))
    await log.close()
    const list = await files(file)
    assert.ok(list.length >= 3, `rotated into ${list.length} files`)
    const r = await verify(file)
    assert.ok(r.ok, JSON.stringify(r.break))
    assert.equal(r.records, 31 + list.length - 1)
  })

  test('the writer refuses a file another live process holds', async () => {
    const file = fresh()
    writeFileSync(`${file}.lock`, String(process.ppid))
    await assert.rejects(openLog(file), /another sqlwarden process/)
    writeFileSync(`${file}.lock`, '999999999')
    const log = await openLog(file)
    await log.close()
  })

  describe('tampering: each kind of break is found, with its position', () => {
    const tampered = async (edit: (lines: string[]) => string[], key: Buffer | null = null) => {
      const file = fresh()
      await writeCalls(file, 10, { key })
      rewrite(file, edit(linesOf(file)))
      return verify(file, key)
    }
    const field = (line: string, change: (r: Record<string, unknown>) => void) => {
      const r = JSON.parse(line) as Record<string, unknown>
      change(r)
      return JSON.stringify(r)
    }

    test('modified: a field changed', async () => {
      const r = await tampered((l) => l.map((x, i) => (i === 4 ? field(x, (r) => (r['principal'] = 'mallory')) : x)))
      assert.equal(r.break?.kind, 'modified')
      assert.deepEqual(r.break?.at, { file: 'audit.jsonl', line: 5, seq: 4 })
    })

    test('modified: a line that is not a record', async () => {
      const r = await tampered((l) => l.map((x, i) => (i === 2 ? 'garbage' : x)))
      assert.equal(r.break?.kind, 'modified')
      assert.equal(r.break?.at.line, 3)
    })

    test('modified: a record edited and re-hashed without a key breaks the next link', async () => {
      const { recordHash } = await import('../../../src/audit/audit-chain.js')
      const r = await tampered((l) =>
        l.map((x, i) => (i === 4 ? field(x, (r) => { r['rows'] = 0; r['hash'] = recordHash(r, null) }) : x)),
      )
      assert.equal(r.break?.kind, 'modified')
      assert.equal(r.break?.at.seq, 4)
    })

    test('deleted: a record removed', async () => {
      const r = await tampered((l) => l.filter((_, i) => i !== 5))
      assert.equal(r.break?.kind, 'deleted')
      assert.equal(r.break?.at.seq, 6)
    })

    test('inserted: a record copied in', async () => {
      const r = await tampered((l) => [...l.slice(0, 6), l[5] as string, ...l.slice(6)])
      assert.equal(r.break?.kind, 'inserted')
    })

    test('reordered: two records swapped', async () => {
      const r = await tampered((l) => [...l.slice(0, 3), l[4] as string, l[3] as string, ...l.slice(5)])
      assert.equal(r.break?.kind, 'reordered')
      assert.equal(r.break?.at.seq, 4)
    })

    test('reordered: a record moved to the end', async () => {
      const r = await tampered((l) => [...l.slice(0, 3), ...l.slice(4), l[3] as string])
      assert.equal(r.break?.kind, 'reordered')
    })

    test('truncated: the beginning of the chain removed', async () => {
      const r = await tampered((l) => l.slice(3))
      assert.equal(r.break?.kind, 'truncated')
    })

    test('truncated: a rotated file removed', async () => {
      const file = fresh()
      const log = await openLog(file, { rotateBytes: 2_000 })
      for (let i = 0; i < 30; i += 1) await log.record(callEvent(i))
      await log.close()
      const list = await files(file)
      const middle = list[1] as string
      const { rmSync } = await import('node:fs')
      rmSync(middle)
      const r = await verify(file)
      assert.equal(r.break?.kind, 'truncated')
    })

    test('truncated: the end cut off, found by an anchor kept elsewhere', async () => {
      const file = fresh()
      await writeCalls(file, 10)
      const lines = linesOf(file)
      const anchor = JSON.parse(lines[9] as string)
      rewrite(file, lines.slice(0, 7))
      const list = await files(file)
      const r = verifyLines(readChainLines(list), list, { key: null, anchors: [{ seq: anchor.seq, hash: anchor.hash }] })
      assert.equal(r.break?.kind, 'truncated')
    })

    test('wrong key: keyed records checked with another key, or with none', async () => {
      const file = fresh()
      await writeCalls(file, 5, { key: KEY })
      assert.ok((await verify(file, KEY)).ok)
      assert.equal((await verify(file, Buffer.from('x'.repeat(32)))).break?.kind, 'wrong_key')
      assert.equal((await verify(file, null)).break?.kind, 'wrong_key')
    })

    test('with a key, a record edited and re-hashed without it is modified', async () => {
      const { recordHash } = await import('../../../src/audit/audit-chain.js')
      const r = await tampered(
        (l) => l.map((x, i) => (i === 4 ? field(x, (r) => { r['rows'] = 0; r['hash'] = recordHash(r, null) }) : x)),
        KEY,
      )
      assert.equal(r.break?.kind, 'modified')
      assert.equal(r.break?.at.seq, 4)
    })
  })

  test('files in a directory listing include the rotated ones in time order', async () => {
    const file = fresh()
    const log = await openLog(file, { rotateBytes: 1_500 })
    for (let i = 0; i < 20; i += 1) await log.record(callEvent(i))
    await log.close()
    const names = readdirSync(join(file, '..')).filter((n) => n.endsWith('.jsonl')).sort()
    assert.ok(names.length >= 2)
  })
})
