/**
 * stdout for the stdio transport, with the responses that complete in one turn of the event loop
 * written in one system call. Under concurrency many calls finish together, and each write that
 * wakes the client costs far more than the bytes it carries. Order is kept; nothing but protocol
 * messages ever reaches stdout.
 */
import { Writable } from 'node:stream'

export class CoalescingStdout extends Writable {
  readonly #target: NodeJS.WritableStream
  #pending: Buffer[] = []
  #scheduled = false

  constructor(target: NodeJS.WritableStream = process.stdout) {
    super({ decodeStrings: true })
    this.#target = target
    target.on('error', (error: Error) => this.destroy(error))
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#pending.push(chunk)
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
    const data = this.#pending.length === 1 ? this.#pending[0] : Buffer.concat(this.#pending)
    this.#pending = []
    if (data !== undefined) this.#target.write(data)
  }
}
