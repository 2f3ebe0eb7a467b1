/**
 * Results, not exceptions, between stages (STYLE.md "Errors").
 * A stage returns `ok(value)` or `fail(code, …)`; exceptions are for bugs and I/O only.
 */
import type { ErrorCode } from '../errors/error-codes.js'

export interface Ok<T> {
  readonly ok: true
  readonly value: T
}

export interface Fail {
  readonly ok: false
  /** Stable catalog code; the only thing about the failure that may reach a client. */
  readonly code: ErrorCode
  /**
   * An allow-listed detail that is safe to show the client: a rule id or the name of a construct
   * taken from the parse tree or a reviewed list, never raw SQL, driver text or a secret.
   */
  readonly subject?: string
  /** Extra fields the catalog allows to cross (for example `limitMs`). Numbers and short ids only. */
  readonly data?: Readonly<Record<string, number | string | boolean>>
  /** The local cause (driver error, stack). Kept for stderr and the audit record; never sent. */
  readonly cause?: unknown
}

export type Result<T> = Ok<T> | Fail

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value }
}

export function fail(
  code: ErrorCode,
  extra: { subject?: string; data?: Record<string, number | string | boolean>; cause?: unknown } = {},
): Fail {
  return { ok: false, code, ...extra }
}
