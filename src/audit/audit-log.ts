/**
 * The audit log: chains records and writes them through a sink, write-ahead. `record()` resolves
 * true only once the call's record is as durable as configured; the caller returns a result only
 * then, and fails the call with ERR_AUDIT_UNAVAILABLE on false (audit is part of the call, not a
 * side channel: DESIGN §2 step 10, I4).
 *
 * Group commit: records that arrive while a batch is being written form the next batch, written
 * with one write(2) (and one fdatasync with `fsync` durability). Sequence numbers and hashes are
 * assigned when a batch is written, in order, so a failed batch leaves no gap in the chain: its
 * calls fail, and the next batch continues from the last record that was written. After a failure
 * the sink repairs the file (truncates a partial batch, or closes off a torn line and says so in a
 * `start` record) before anything else is written.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../log/logger.js'
import { GENESIS_PREV, hashText } from './audit-chain.js'
import { canonicalRecordJson } from './canonical-json.js'
import { AUDIT_SCHEMA_VERSION, type AuditRecord, type CallEvent } from './audit-record.js'
import type { AuditSink, ChainTail } from './audit-sink.js'

export interface AuditLogOptions {
  readonly sink: AuditSink
  /** HMAC key; null for plain SHA-256 links. */
  readonly key: Buffer | null
  readonly durability: 'write' | 'fsync'
  readonly configHash: string
  readonly policyHash: string
  readonly version: string
  readonly logger: Logger
  /** A batch that takes longer than this fails its calls (a hung disk must not hang every call). */
  readonly appendTimeoutMs?: number
  readonly now?: () => Date
}

interface Pending {
  readonly event: CallEvent
  readonly resolve: (written: boolean) => void
}

const DEFAULT_APPEND_TIMEOUT_MS = 5_000

type Draft = Record<string, unknown> & { kind: AuditRecord['kind'] }

export class AuditLog {
  readonly #options: AuditLogOptions
  readonly #queue: Pending[] = []
  #tail: ChainTail
  #flushing = false
  #needsRecovery = false
  #closed = false
  /** The sink's last append, settled or not: a timed-out append is awaited before the next one. */
  #lastAppend: Promise<void> = Promise.resolve()

  private constructor(options: AuditLogOptions, tail: ChainTail) {
    this.#options = options
    this.#tail = tail
  }

  /** Opens the sink, continues the chain on it, and writes the `start` record durably. */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const state = await options.sink.open()
    const tail = state.tail ?? { chain: state.newChainId ?? randomUUID(), seq: -1, hash: GENESIS_PREV }
    const log = new AuditLog(options, tail)
    await log.#writeBatch([log.#startDraft(state.tornTailBytes)])
    return log
  }

  get policyHash(): string {
    return this.#options.policyHash
  }

  get description(): string {
    return this.#options.sink.description
  }

  /** Appends one call's record; true once it is durable, false if it could not be written. */
  record(event: CallEvent): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false)
    return new Promise((resolve) => {
      this.#queue.push({ event, resolve })
      if (!this.#flushing) void this.#flush()
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    while (this.#flushing) await new Promise((r) => setImmediate(r))
    await this.#options.sink.close()
  }

  async #flush(): Promise<void> {
    this.#flushing = true
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0)
        let written = false
        try {
          const drafts: Draft[] = []
          if (this.#needsRecovery) {
            // A timed-out append may still land: let it settle before the file is repaired.
            await this.#lastAppend.catch(() => undefined)
            const state = await this.#options.sink.recover()
            if (state.tail !== null) this.#tail = state.tail
            if (state.tornTailBytes > 0) drafts.push(this.#startDraft(state.tornTailBytes))
            this.#needsRecovery = false
          }
          for (const p of batch) drafts.push({ ...p.event, kind: 'call', policy_hash: this.#options.policyHash })
          await this.#writeBatch(drafts)
          written = true
        } catch (error) {
          this.#needsRecovery = true
          this.#options.logger.error({ err: error, sink: this.#options.sink.description }, 'audit write failed; calls fail until it recovers')
        }
        for (const p of batch) p.resolve(written)
      }
    } finally {
      this.#flushing = false
    }
  }

  /** Chains the drafts after the tail (rotating first when due), writes them, then moves the tail. */
  async #writeBatch(drafts: Draft[]): Promise<void> {
    const sink = this.#options.sink
    let chained = this.#chain(drafts, this.#tail)
    if (sink.shouldRotate(Buffer.byteLength(chained.text))) {
      const previousFile = await sink.rotate()
      chained = this.#chain([{ kind: 'rotate', previous_file: previousFile }, ...drafts], this.#tail)
    }
    this.#lastAppend = sink.append(chained.text)
    if (sink.synchronous === true) await this.#lastAppend
    else await withTimeout(this.#lastAppend, this.#options.appendTimeoutMs ?? DEFAULT_APPEND_TIMEOUT_MS)
    this.#tail = chained.tail
  }

  #chain(drafts: readonly Draft[], from: ChainTail): { text: string; tail: ChainTail } {
    let { seq, hash } = from
    let text = ''
    const time = (this.#options.now?.() ?? new Date()).toISOString()
    for (const draft of drafts) {
      seq += 1
      const record: Record<string, unknown> = {
        v: AUDIT_SCHEMA_VERSION,
        chain: from.chain,
        seq,
        time,
        prev: hash,
        alg: this.#options.key === null ? 'sha256' : 'hmac-sha256',
        durability: this.#options.durability,
        ...draft,
      }
      // The canonical text is the line itself, hash appended: one serialisation per record.
      const canonical = canonicalRecordJson(record)
      hash = hashText(canonical, this.#options.key)
      text += `${canonical.slice(0, -1)},"hash":"${hash}"}\n`
    }
    return { text, tail: { chain: from.chain, seq, hash } }
  }

  #startDraft(tornTailBytes: number): Draft {
    return {
      kind: 'start',
      config_hash: this.#options.configHash,
      policy_hash: this.#options.policyHash,
      version: this.#options.version,
      ...(tornTailBytes > 0 ? { torn_tail_bytes: tornTailBytes } : {}),
    }
  }
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`audit append took longer than ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
