/**
 * The stderr sink, for containers whose log collector reads stderr: one JSON record per line on
 * fd 2, written synchronously (the record has left the process before the call's result does).
 * The chain starts afresh at each start: stderr has no tail to read back.
 */
import { writeSync } from 'node:fs'
import type { AuditSink, SinkState } from './audit-sink.js'

export class StderrSink implements AuditSink {
  readonly description = 'stderr'
  readonly synchronous = true

  async open(): Promise<SinkState> {
    return { tail: null, tornTailBytes: 0 }
  }

  async append(lines: string): Promise<void> {
    const buffer = Buffer.from(lines, 'utf8')
    let written = 0
    while (written < buffer.length) written += writeSync(2, buffer, written, buffer.length - written)
  }

  shouldRotate(): boolean {
    return false
  }

  async rotate(): Promise<string> {
    return 'stderr'
  }

  async recover(): Promise<SinkState> {
    return { tail: null, tornTailBytes: 0 }
  }

  async close(): Promise<void> {}
}
