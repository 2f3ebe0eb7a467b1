/**
 * `sqlwarden demo` end to end on the embedded default: no --db, a fresh cache directory (so the
 * first-run build is exercised), the real CLI over stdio through the SDK client. Exit 0 means every
 * narrated step behaved (refusals refused, caps applied).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../helpers/cli-process.js'

test('sqlwarden demo runs on a freshly built embedded database and exits 0', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'sqlwarden-demo-cache-'))
  try {
    const first = await runCli(['demo'], { SQLWARDEN_CACHE_DIR: cache }, 90_000)
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`)
    assert.match(first.stdout, /Demo finished: every step behaved as expected/)
    assert.match(first.stdout, /ERR_SQL_NOT_READ_ONLY/)
    assert.match(first.stdout, /ERR_SQL_MULTI_STATEMENT/)
    assert.match(first.stdout, /truncated=true/)
    // A second run reuses the cached database.
    const second = await runCli(['demo'], { SQLWARDEN_CACHE_DIR: cache }, 60_000)
    assert.equal(second.code, 0, second.stderr)
    const ms = Number(/Connected over stdio in (\d+) ms/.exec(second.stdout)?.[1])
    assert.ok(Number.isFinite(ms))
  } finally {
    rmSync(cache, { recursive: true, force: true })
  }
})
