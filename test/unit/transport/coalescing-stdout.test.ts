import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { CoalescingStdout } from '../../../src/transport/coalescing-stdout.js'

function target() {
  const writes: string[] = []
  const stream = new PassThrough()
  const original = stream.write.bind(stream)
  stream.write = ((chunk: Buffer) => {
    writes.push(chunk.toString())
    return original(chunk)
  }) as typeof stream.write
  return { stream, writes }
}

test('messages written in one turn of the event loop leave in one write, in order', async () => {
  const t = target()
  const out = new CoalescingStdout(t.stream)
  out.write('{"id":1}\n')
  out.write('{"id":2}\n')
  out.write('{"id":3}\n')
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(t.writes, ['{"id":1}\n{"id":2}\n{"id":3}\n'])
  out.write('{"id":4}\n')
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(t.writes, ['{"id":1}\n{"id":2}\n{"id":3}\n', '{"id":4}\n'])
})

test('ending flushes what is pending', async () => {
  const t = target()
  const out = new CoalescingStdout(t.stream)
  out.write('a\n')
  await new Promise<void>((r) => out.end(r))
  assert.deepEqual(t.writes, ['a\n'])
})

test('strings and buffers written in one turn keep their order and bytes (UTF-8 included)', async () => {
  const t = target()
  const out = new CoalescingStdout(t.stream)
  out.write('{"s":"é"}\n')
  out.write(Buffer.from('{"b":"ü"}\n'))
  out.write('{"s":"✓"}\n')
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(t.writes, ['{"s":"é"}\n{"b":"ü"}\n{"s":"✓"}\n'])
})
