/**
 * Asking the human before a write (issue 3): the pipeline's last stage for `execute`, after every
 * other stage allowed the call. Two ways to ask, chosen by the protocol era of the request, and a
 * refusal whenever neither is possible (a write never runs unconfirmed):
 *
 * - **2025-era sessions** (stdio, where the server can send requests to the client): an
 *   `elicitation/create` form request with one boolean `confirm`, through the SDK's
 *   `ctx.mcpReq.elicitInput`, awaited within this call for at most CONFIRMATION_TIMEOUT_MS. The
 *   statement confirmed is the one in hand: nothing crosses the client.
 * - **2026-07-28 requests** (stdio or stateless HTTP): the SDK's multi-round-trip flow. The first
 *   round answers `input_required` with the same form and a `requestState` minted here: an HMAC
 *   (the SDK's createRequestStateCodec, a per-process random key) over `{ b: binding, n: nonce }`,
 *   valid for CONFIRMATION_TIMEOUT_MS. The client asks the user and retries the call with the answer
 *   and the state; the retry runs every stage again, and is confirmed only if the state verifies,
 *   its binding equals the retry's own binding (same principal, source, tool, database role,
 *   statement and typed parameters), its nonce was never used (one confirmation, one write), and
 *   the answer is an accepted form with `confirm: true`.
 *
 * Capabilities are checked here first, so a client that cannot ask gets ERR_WRITE_CONFIRMATION_
 * UNAVAILABLE (not the SDK's protocol error): on 2026-07-28, the request's declared
 * `clientCapabilities`; on 2025-era, the capabilities of `initialize`. A stateless 2025-era HTTP
 * request saw no `initialize` and has no channel back, so it is refused.
 *
 * The state is signed, not encrypted: it holds only a hash and a random nonce. A per-process key
 * means the retry must reach the process that asked (several HTTP replicas need sticky routing);
 * a retry elsewhere is refused as ERR_WRITE_CONFIRMATION_INVALID, never run.
 */
import { randomBytes } from 'node:crypto'
import {
  createRequestStateCodec,
  inputRequired,
  inputResponse,
  type InputRequiredResult,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server'
import { z } from 'zod'
import type { ConfirmationVerdict, WriteConfirmationRequest, WriteConfirmer } from '../pipeline/request-context.js'

/** How long the user has to answer (and a 2026-07-28 confirmation state stays valid). */
export const CONFIRMATION_TIMEOUT_MS = 300_000
/** The key of the one embedded input request. */
export const CONFIRM_INPUT_KEY = 'sqlwarden_confirm_write'
const MODERN_ERA = '2026-07-28'
const MAX_OUTSTANDING_NONCES = 10_000

/** The form: one boolean, off by default. */
export const CONFIRM_SCHEMA: { type: 'object'; properties: { confirm: { type: 'boolean'; title: string; description: string; default: boolean } }; required: string[] } = {
  type: 'object',
  properties: {
    confirm: {
      type: 'boolean',
      title: 'Run this write',
      description: 'Tick to run exactly the statement shown, once. Anything else cancels it.',
      default: false,
    },
  },
  required: ['confirm'],
}

const acceptedForm = z.object({ confirm: z.literal(true) }).strict()

interface ConfirmationState {
  readonly b: string
  readonly n: string
}

export interface ConfirmationOptions {
  readonly timeoutMs?: number
}

/** Per process: the HMAC key, and the nonces already used (a confirmation is good for one write). */
class ConfirmationLedger {
  readonly codec = createRequestStateCodec<ConfirmationState>({
    key: randomBytes(32),
    ttlSeconds: Math.ceil(CONFIRMATION_TIMEOUT_MS / 1000),
  })
  readonly #used = new Map<string, number>()

  /** True the first time a nonce is spent within its lifetime; false when already spent. */
  spend(nonce: string): boolean {
    const now = Date.now()
    if (this.#used.size >= MAX_OUTSTANDING_NONCES) {
      for (const [key, expiresAt] of this.#used) if (expiresAt <= now) this.#used.delete(key)
    }
    // Still full of live nonces: refuse rather than forget one (a forgotten nonce could be replayed).
    if (this.#used.has(nonce) || this.#used.size >= MAX_OUTSTANDING_NONCES) return false
    this.#used.set(nonce, now + CONFIRMATION_TIMEOUT_MS + 60_000)
    return true
  }
}

let ledger: ConfirmationLedger | null = null
function processLedger(): ConfirmationLedger {
  ledger ??= new ConfirmationLedger()
  return ledger
}

/** The question the user sees. Facts from the parse tree and the policy first; the SQL text last. */
export function confirmationMessage(request: WriteConfirmationRequest): string {
  return [
    'sqlwarden asks you to confirm a database write. Nothing runs unless you confirm.',
    `Principal: ${request.principal}`,
    `Source: ${request.source}`,
    `Statement: ${request.statementClass.toUpperCase()} on ${request.target} (needs: ${request.classes.join(', ')})`,
    `Parameters: ${JSON.stringify(request.params)}`,
    `Confirmation id: ${request.binding.slice(0, 16)}`,
    'SQL, exactly as it will run:',
    request.statementText,
  ].join('\n')
}

type Refusal = Extract<ConfirmationVerdict, { kind: 'refused' }>
const refused = (code: Refusal['code'], subject?: string): ConfirmationVerdict =>
  subject === undefined ? { kind: 'refused', code } : { kind: 'refused', code, subject }

/** Form-mode elicitation declared: `{}` (the 2025 default means form) or an explicit `form`. */
function supportsFormElicitation(capabilities: unknown): boolean {
  if (typeof capabilities !== 'object' || capabilities === null) return false
  const elicitation = (capabilities as Record<string, unknown>)['elicitation']
  if (typeof elicitation !== 'object' || elicitation === null) return false
  const modes = Object.keys(elicitation)
  return modes.length === 0 || (elicitation as Record<string, unknown>)['form'] !== undefined
}

/** The confirmer for one tools/call request on `server`. */
export function createWriteConfirmer(server: Server, ctx: ServerContext, options: ConfirmationOptions = {}): WriteConfirmer {
  const timeoutMs = options.timeoutMs ?? CONFIRMATION_TIMEOUT_MS
  return {
    async confirm(request) {
      try {
        const version = server.getNegotiatedProtocolVersion()
        if (version !== undefined && version >= MODERN_ERA) return await confirmModern(ctx, request)
        return await confirmLegacy(server, ctx, request, timeoutMs)
      } catch {
        // Never run a write on an unexpected failure while asking.
        return refused('ERR_WRITE_CONFIRMATION_UNAVAILABLE', 'confirmation_failed')
      }
    },
  }
}

async function confirmLegacy(
  server: Server,
  ctx: ServerContext,
  request: WriteConfirmationRequest,
  timeoutMs: number,
): Promise<ConfirmationVerdict> {
  if (!supportsFormElicitation(server.getClientCapabilities())) return refused('ERR_WRITE_CONFIRMATION_UNAVAILABLE')
  let answer: { action: string; content?: Record<string, unknown> }
  try {
    answer = await ctx.mcpReq.elicitInput(
      { mode: 'form', message: confirmationMessage(request), requestedSchema: CONFIRM_SCHEMA },
      { timeout: timeoutMs, signal: ctx.mcpReq.signal },
    )
  } catch (error) {
    if (ctx.mcpReq.signal.aborted) return refused('ERR_EXEC_CANCELLED')
    return isTimeout(error) ? refused('ERR_WRITE_CONFIRMATION_TIMEOUT') : refused('ERR_WRITE_CONFIRMATION_UNAVAILABLE', 'elicitation_failed')
  }
  if (answer.action === 'accept' && acceptedForm.safeParse(answer.content ?? {}).success) return { kind: 'confirmed' }
  return refused('ERR_WRITE_DECLINED', answer.action === 'accept' ? 'not_confirmed' : answer.action === 'cancel' ? 'cancel' : 'decline')
}

async function confirmModern(ctx: ServerContext, request: WriteConfirmationRequest): Promise<ConfirmationVerdict> {
  // The SDK types the envelope as `{}`; the key is the spec's reserved clientCapabilities key.
  const capabilities = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.['io.modelcontextprotocol/clientCapabilities']
  if (!supportsFormElicitation(capabilities)) return refused('ERR_WRITE_CONFIRMATION_UNAVAILABLE')
  const state = processLedger()
  const raw = ctx.mcpReq.requestState()
  const responses = ctx.mcpReq.inputResponses
  const dropped = ctx.mcpReq.droppedInputResponseKeys ?? []
  if (raw === undefined) {
    // First round: ask. An answer without our state is not a confirmation of anything.
    if (responses !== undefined && Object.keys(responses).length > 0) return refused('ERR_WRITE_CONFIRMATION_INVALID', 'answer_without_state')
    if (dropped.length > 0) return refused('ERR_WRITE_CONFIRMATION_INVALID', 'answer_without_state')
    const requestState = await state.codec.mint({ b: request.binding, n: randomBytes(16).toString('base64url') })
    const result: InputRequiredResult = inputRequired({
      inputRequests: {
        [CONFIRM_INPUT_KEY]: inputRequired.elicit({
          mode: 'form',
          message: confirmationMessage(request),
          requestedSchema: CONFIRM_SCHEMA,
        }),
      },
      requestState,
    })
    return { kind: 'input_required', result }
  }
  if (typeof raw !== 'string') return refused('ERR_WRITE_CONFIRMATION_INVALID', 'state')
  let payload: ConfirmationState
  try {
    payload = await state.codec.verify(raw, ctx)
  } catch (error) {
    return (error as Error).message === 'expired'
      ? refused('ERR_WRITE_CONFIRMATION_TIMEOUT', 'expired')
      : refused('ERR_WRITE_CONFIRMATION_INVALID', 'state')
  }
  if (typeof payload?.b !== 'string' || typeof payload.n !== 'string') return refused('ERR_WRITE_CONFIRMATION_INVALID', 'state')
  // The retry ran every stage again: it must be the very call the user was shown.
  if (payload.b !== request.binding) return refused('ERR_WRITE_CONFIRMATION_INVALID', 'binding')
  const answer = inputResponse(responses, CONFIRM_INPUT_KEY)
  if (answer.kind !== 'elicit') return refused('ERR_WRITE_CONFIRMATION_INVALID', 'no_answer')
  // Spent either way: one question, one answer, at most one write.
  if (!state.spend(payload.n)) return refused('ERR_WRITE_CONFIRMATION_INVALID', 'replayed')
  if (answer.action === 'accept' && acceptedForm.safeParse(answer.content ?? {}).success) return { kind: 'confirmed' }
  return refused('ERR_WRITE_DECLINED', answer.action === 'accept' ? 'not_confirmed' : answer.action)
}

function isTimeout(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, message } = error as { code?: unknown; message?: unknown }
  return code === 'REQUEST_TIMEOUT' || code === -32001 || (typeof message === 'string' && /timed? ?out/i.test(message))
}
