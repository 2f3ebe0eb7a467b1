/**
 * The request context: who is calling, on which transport, with which request id and abort signal.
 * Immutable; nothing else carries identity (DESIGN §2 step 3).
 */
import { randomUUID } from 'node:crypto'

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

export interface RequestContext {
  readonly requestId: string
  readonly principal: Principal
  readonly transport: 'stdio' | 'http'
  readonly client: ClientInfo | null
  readonly signal: AbortSignal
  readonly startedAt: number
}

/** Until identity exists (issue 3), every caller is the local principal with the `default` role. */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({ id: 'local', roles: Object.freeze(['default']) })

export function createRequestContext(input: {
  principal: Principal
  transport: 'stdio' | 'http'
  client?: ClientInfo | null
  signal?: AbortSignal
}): RequestContext {
  return Object.freeze({
    requestId: randomUUID(),
    principal: input.principal,
    transport: input.transport,
    client: input.client ?? null,
    signal: input.signal ?? new AbortController().signal,
    startedAt: performance.now(),
  })
}
