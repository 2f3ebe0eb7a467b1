import assert from 'node:assert/strict'
import { test } from 'node:test'
import pino from 'pino'
import { newSessionMark, SessionIdentity, sessionMarkSql } from '../../../src/exec/drivers/postgres/postgres-session-identity.js'

function identity(): { sessions: SessionIdentity; errors: { reason?: string }[] } {
  const errors: { reason?: string }[] = []
  const stream = { write: (line: string) => void errors.push(JSON.parse(line) as { reason?: string }) }
  return { sessions: new SessionIdentity(pino({ level: 'error' }, stream)), errors }
}

test('a connection’s calls pass while its settings row carries its own mark', () => {
  const { sessions, errors } = identity()
  const a = {}
  const b = {}
  const markA = newSessionMark()
  const markB = newSessionMark()
  assert.match(markA, /^[0-9a-f]{32}$/)
  assert.notEqual(markA, markB)
  assert.equal(sessions.markOf(a), null)
  sessions.record(a, markA)
  sessions.record(b, markB)
  assert.equal(sessions.markOf(a), markA)
  for (let i = 0; i < 3; i++) {
    assert.equal(sessions.checkFor(a)(markA), true)
    assert.equal(sessions.checkFor(b)(markB), true)
  }
  assert.equal(sessions.shared, false)
  assert.deepEqual(errors, [])
})

test('another connection’s mark proves a shared session: refused, logged once, and the source stays refused', () => {
  const { sessions, errors } = identity()
  const a = {}
  const b = {}
  const markA = newSessionMark()
  const markB = newSessionMark()
  sessions.record(a, markA)
  sessions.record(b, markB)
  assert.equal(sessions.checkFor(a)(markB), false)
  assert.equal(sessions.shared, true)
  assert.equal(sessions.checkFor(b)(markA), false)
  assert.equal(errors.length, 1)
  assert.equal(errors[0]?.reason, 'session_mark_mismatch')
})

test('no mark (a reset or fresh session), a wrong type, or an unmarked connection is refused (fail closed)', () => {
  for (const seen of [null, undefined, '', 42, {}]) {
    const { sessions } = identity()
    const a = {}
    sessions.record(a, newSessionMark())
    assert.equal(sessions.checkFor(a)(seen), false, String(seen))
    assert.equal(sessions.shared, true)
  }
  const { sessions, errors } = identity()
  assert.equal(sessions.checkFor({})(null), false)
  assert.equal(errors[0]?.reason, 'unmarked_connection')
})

test('the mark is set with a plain SET of exactly the 32 hex digits drawn, and nothing else is ever inlined', () => {
  const mark = newSessionMark()
  assert.equal(sessionMarkSql(mark), `SET sqlwarden.session = '${mark}'`)
  for (const bad of ["x' ; DROP TABLE t; --", 'A'.repeat(32), mark.slice(1), `${mark}0`, '']) {
    assert.throws(() => sessionMarkSql(bad), /32 hex digits/, bad)
  }
})
