/**
 * stdout for the stdio transport, with the responses that complete in one turn of the event loop
 * written in one system call. Under concurrency many calls finish together, and each write that
 * wakes the client costs far more than the bytes it carries. Order is kept; nothing but protocol
 * messages ever reaches stdout.
 */
import { Writable } from 'node:stream'

export class CoalescingStdout extends Writable {
  readonly #target: NodeJS.WritableStream
  // The SDK writes each message as a string: kept as strings and joined, they are encoded once.
  #pending: (string | Buffer)[] = []
  #scheduled = false

  constructor(target: NodeJS.WritableStream = process.stdout) {
    super({ decodeStrings: false })
    this.#target = target
    target.on('error', (error: Error) => this.destroy(error))
  }

  override _write(chunk: string | Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#pending.push(typeof chunk === 'string' && encoding !== 'utf8' ? Buffer.from(chunk, encoding) : chunk)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#flush())
    }
    callback()
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#flush()
    callback()
  }

  #flush(): void {
    this.#scheduled = false
    if (this.#pending.length === 0) return
    const pending = this.#pending
    this.#pending = []
    const data =
      pending.length === 1
        ? pending[0]
        : pending.every((p) => typeof p === 'string')
          ? pending.join('')
          : Buffer.concat(pending.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)))
    if (data !== undefined) this.#target.write(data)
  }
}
