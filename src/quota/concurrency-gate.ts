/**
 * Concurrency in this process. Two kinds:
 *
 * - `SourceGate`: global concurrency of one source (every principal), with a bounded FIFO wait queue
 *   and a deadline. A full queue or a passed deadline refuses with ERR_QUOTA_CONCURRENCY, so a burst
 *   waits a little instead of piling onto the database, and a flood is turned away at once.
 * - `PrincipalCounter`: calls in flight per principal (and scope). Above the limit a call is refused
 *   at once, never queued: a principal's own flood can hold at most its share of the source's slots
 *   and queue places, so it cannot starve the others.
 *
 * Every acquire hands back a release that is idempotent; the pipeline calls it in a finally.
 */
import { fail, ok, type Fail, type Result } from '../util/result.js'

export type Release = () => void

const NOOP: Release = () => undefined

/** The retry hint of a concurrency refusal when no better estimate exists. */
export const CONCURRENCY_RETRY_MS = 250

interface Waiter {
  readonly grant: (release: Release) => void
  readonly refuse: (result: Result<Release>) => void
  done: boolean
}

export class SourceGate {
  private running = 0
  private readonly waiting: Waiter[] = []

  readonly maxConcurrency: number
  readonly queue: number
  readonly queueTimeoutMs: number

  constructor(maxConcurrency: number, queue: number, queueTimeoutMs: number) {
    this.maxConcurrency = maxConcurrency
    this.queue = queue
    this.queueTimeoutMs = queueTimeoutMs
  }

  get inFlight(): number {
    return this.running
  }

  get queued(): number {
    return this.waiting.length
  }

  acquire(signal?: AbortSignal): Promise<Result<Release>> | Result<Release> {
    if (this.running < this.maxConcurrency && this.waiting.length === 0) {
      this.running++
      return ok(this.releaser())
    }
    if (this.waiting.length >= this.queue) {
      return this.queueFull()
    }
    if (signal?.aborted === true) return fail('ERR_EXEC_CANCELLED')
    return new Promise<Result<Release>>((resolve) => {
      const waiter: Waiter = {
        done: false,
        grant: (release) => finish(ok(release)),
        refuse: (result) => finish(result),
      }
      const timer = setTimeout(
        () => finish(this.queueTimedOut()),
        this.queueTimeoutMs,
      )
      const onAbort = () => finish(fail('ERR_EXEC_CANCELLED'))
      signal?.addEventListener('abort', onAbort, { once: true })
      const finish = (result: Result<Release>) => {
        if (waiter.done) {
          // Granted after it had already given up (cannot happen: granting checks `done`), release.
          if (result.ok) result.value()
          return
        }
        waiter.done = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        const i = this.waiting.indexOf(waiter)
        if (i >= 0) this.waiting.splice(i, 1)
        resolve(result)
      }
      this.waiting.push(waiter)
    })
  }

  /** The refusal when no place is left to wait in (also for a slot held on other replicas). */
  queueFull(): Fail {
    return fail('ERR_QUOTA_CONCURRENCY', { subject: 'source_queue_full', data: { retryAfterMs: Math.max(CONCURRENCY_RETRY_MS, Math.ceil(this.queueTimeoutMs / 4)) } })
  }

  /** The refusal of a call that waited its `queueTimeout` (also for a slot held on other replicas). */
  queueTimedOut(): Fail {
    return fail('ERR_QUOTA_CONCURRENCY', { subject: 'source_queue_timeout', data: { retryAfterMs: Math.max(CONCURRENCY_RETRY_MS, this.queueTimeoutMs) } })
  }

  private releaser(): Release {
    let released = false
    return () => {
      if (released) return
      released = true
      // Hand the slot to the first live waiter, or free it.
      for (;;) {
        const next = this.waiting.shift()
        if (next === undefined) {
          this.running--
          return
        }
        if (next.done) continue
        next.grant(this.releaser())
        return
      }
    }
  }
}

/** The refusal of a principal's call above its `concurrency` (here, or over every replica). */
export function principalRefusal(): Fail {
  return fail('ERR_QUOTA_CONCURRENCY', { subject: 'principal', data: { retryAfterMs: CONCURRENCY_RETRY_MS } })
}

/** In-flight calls by key, each with its own limit; refuses at once above it. */
export class PrincipalCounter {
  private readonly counts = new Map<string, number>()

  /** Takes one slot under every (key, limit), or none. */
  acquire(slots: readonly { readonly key: string; readonly limit: number }[]): Result<Release> {
    if (slots.length === 0) return ok(NOOP)
    for (const s of slots) {
      if ((this.counts.get(s.key) ?? 0) >= s.limit) {
        return principalRefusal()
      }
    }
    for (const s of slots) this.counts.set(s.key, (this.counts.get(s.key) ?? 0) + 1)
    let released = false
    return ok(() => {
      if (released) return
      released = true
      for (const s of slots) {
        const n = (this.counts.get(s.key) ?? 1) - 1
        if (n <= 0) this.counts.delete(s.key)
        else this.counts.set(s.key, n)
      }
    })
  }

  inFlight(key: string): number {
    return this.counts.get(key) ?? 0
  }
}
