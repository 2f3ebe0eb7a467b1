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
