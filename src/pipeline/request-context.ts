/**
 * The request context: who is calling, on which transport, with which request id and abort signal.
 * Immutable; nothing else carries identity (DESIGN §2 step 3).
 */
import { randomUUID } from 'node:crypto'
import type { ErrorCode } from '../errors/error-codes.js'

export interface Principal {
  readonly id: string
  readonly roles: readonly string[]
  /**
   * Claims exposed to SQL as `current_setting('sqlwarden.claim.<name>')` (configured per API key,
   * or the token claims named in `auth.oauth.claimSettings`). Names are checked identifiers.
   */
  readonly claims?: Readonly<Record<string, string>>
}

export interface ClientInfo {
  readonly name: string
  readonly version: string
}

/**
 * What the user is asked to confirm before a write runs, and what the answer is bound to. Built by
 * the pipeline after every other stage allowed the call; `binding` is a SHA-256 over everything a
 * confirmation must not be transferable across (principal, source, tool, database role, the
 * caller's statement, the statement that will run, the typed parameters).
 */
export interface WriteConfirmationRequest {
  readonly principal: string
  readonly source: string
  readonly statementClass: string
  readonly classes: readonly string[]
  /** The target as the statement names it. */
  readonly target: string
  /** The caller's statement, as analysed (before any column projection). */
  readonly statementText: string
  readonly params: readonly (string | number | boolean | null)[]
  readonly binding: string
}

export type ConfirmationVerdict =
  | { readonly kind: 'confirmed' }
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly subject?: string }
  /** The transport must answer this round with `result` (a 2026-07-28 input-required result). */
  | { readonly kind: 'input_required'; readonly result: unknown }

/** Asks the human through the client (src/server/write-confirmation.ts). Never throws. */
export interface WriteConfirmer {
  confirm(request: WriteConfirmationRequest): Promise<ConfirmationVerdict>
}

export interface RequestContext {
  readonly requestId: string
  readonly principal: Principal
  readonly transport: 'stdio' | 'http'
  readonly client: ClientInfo | null
  readonly signal: AbortSignal
  readonly startedAt: number
  /** How this call can ask the user to confirm a write; absent: it cannot, and a write is refused. */
  readonly confirmer?: WriteConfirmer
  /** W3C trace id from the call's `traceparent` (in `_meta` or the HTTP header), for audit records. */
  readonly traceId?: string | null
}

/** A frozen principal: nothing downstream can change who a call is for. */
export function createPrincipal(id: string, roles: readonly string[], claims?: Readonly<Record<string, string>>): Principal {
  return Object.freeze({
    id,
    roles: Object.freeze([...roles]),
    ...(claims === undefined ? {} : { claims: Object.freeze({ ...claims }) }),
  })
}

/** The default stdio caller (config `auth.stdio`): the local principal with the `default` role. */
export const LOCAL_PRINCIPAL: Principal = createPrincipal('local', ['default'])

export function createRequestContext(input: {
  principal: Principal
  transport: 'stdio' | 'http'
  client?: ClientInfo | null
  signal?: AbortSignal
  traceparent?: unknown
  confirmer?: WriteConfirmer
}): RequestContext {
  return Object.freeze({
    requestId: randomUUID(),
    principal: input.principal,
    transport: input.transport,
    client: input.client ?? null,
    signal: input.signal ?? new AbortController().signal,
    startedAt: performance.now(),
    ...(input.confirmer === undefined ? {} : { confirmer: input.confirmer }),
    traceId: traceIdOf(input.traceparent),
  })
}

/** The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), or null. */
export function traceIdOf(traceparent: unknown): string | null {
  if (typeof traceparent !== 'string') return null
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent.trim())
  return match?.[1] !== undefined && !/^0+$/.test(match[1]) ? match[1] : null
}
