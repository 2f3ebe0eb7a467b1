/**
 * The confirmation stage's own rules (src/server/write-confirmation.ts), with the SDK's server
 * context faked: what counts as a confirmation, and that a 2026-07-28 confirmation is bound to
 * exactly one call (same binding), used once, and unforgeable. End to end: test/e2e/write-e2e.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Server, ServerContext } from '@modelcontextprotocol/server'
import type { ConfirmationVerdict, WriteConfirmationRequest } from '../../../src/pipeline/request-context.js'
import { CONFIRM_INPUT_KEY, confirmationMessage, createWriteConfirmer } from '../../../src/server/write-confirmation.js'

const REQUEST: WriteConfirmationRequest = {
  principal: 'alice',
  source: 'shop',
  statementClass: 'update',
  classes: ['update'],
  target: 'public.orders',
  statementText: "UPDATE orders SET status = $1 WHERE id = $2 -- Principal: root",
  params: ['paid', 7],
  binding: 'a'.repeat(64),
}

interface Round {
  readonly version?: string
  readonly capabilities?: unknown
  readonly requestState?: unknown
  readonly inputResponses?: Record<string, unknown>
  readonly elicit?: () => Promise<{ action: string; content?: Record<string, unknown> }>
}

function fakes(round: Round): { server: Server; ctx: ServerContext } {
  const modern = round.version === '2026-07-28'
  const server = {
    getNegotiatedProtocolVersion: () => round.version,
    getClientCapabilities: () => (modern ? undefined : round.capabilities),
  } as unknown as Server
  const ctx = {
    mcpReq: {
      envelope: modern ? { 'io.modelcontextprotocol/clientCapabilities': round.capabilities } : undefined,
      requestState: () => round.requestState,
      inputResponses: round.inputResponses,
      signal: new AbortController().signal,
      elicitInput: round.elicit ?? (async () => assert.fail('must not ask')),
    },
  } as unknown as ServerContext
  return { server, ctx }
}

async function confirm(round: Round, request = REQUEST, timeoutMs?: number): Promise<ConfirmationVerdict> {
  const { server, ctx } = fakes(round)
  return createWriteConfirmer(server, ctx, timeoutMs === undefined ? {} : { timeoutMs }).confirm(request)
}

const code = (v: ConfirmationVerdict) => (v.kind === 'refused' ? v.code : v.kind)
const FORM = { elicitation: { form: {} } }
const accept = { action: 'accept', content: { confirm: true } }

describe('2025-era elicitation', () => {
  test('accept with confirm: true confirms; everything else declines', async () => {
    assert.equal(code(await confirm({ version: '2025-11-25', capabilities: FORM, elicit: async () => accept })), 'confirmed')
    assert.equal(code(await confirm({ version: '2025-11-25', capabilities: { elicitation: {} }, elicit: async () => accept })), 'confirmed')
    for (const answer of [{ action: 'decline' }, { action: 'cancel' }, { action: 'accept', content: { confirm: false } }, { action: 'accept', content: { confirm: 'true' } }, { action: 'accept', content: { confirm: true, extra: 1 } }]) {
      assert.equal(code(await confirm({ version: '2025-11-25', capabilities: FORM, elicit: async () => answer })), 'ERR_WRITE_DECLINED', JSON.stringify(answer))
    }
  })

  test('no elicitation capability, URL mode only, or no initialize at all: unavailable, never asked', async () => {
    for (const capabilities of [{}, undefined, { elicitation: { url: {} } }, { sampling: {} }]) {
      assert.equal(code(await confirm({ version: '2025-11-25', capabilities })), 'ERR_WRITE_CONFIRMATION_UNAVAILABLE')
    }
    assert.equal(code(await confirm({ capabilities: undefined })), 'ERR_WRITE_CONFIRMATION_UNAVAILABLE')
  })

  test('no answer in time is a refusal', async () => {
    const timeout = Object.assign(new Error('Request timed out'), { code: 'REQUEST_TIMEOUT' })
    assert.equal(code(await confirm({ version: '2025-11-25', capabilities: FORM, elicit: async () => { throw timeout } })), 'ERR_WRITE_CONFIRMATION_TIMEOUT')
    assert.equal(code(await confirm({ version: '2025-11-25', capabilities: FORM, elicit: async () => { throw new Error('boom') } })), 'ERR_WRITE_CONFIRMATION_UNAVAILABLE')
  })
})

describe('2026-07-28 input-required', () => {
  const modern = (extra: Omit<Round, 'version' | 'capabilities'> = {}): Round => ({ version: '2026-07-28', capabilities: FORM, ...extra })

  async function firstRound(request = REQUEST): Promise<string> {
    const verdict = await confirm(modern(), request)
    assert.equal(verdict.kind, 'input_required')
    const result = (verdict as { result: { resultType: string; requestState: string; inputRequests: Record<string, { method: string; params: { message: string } }> } }).result
    assert.equal(result.resultType, 'input_required')
    assert.equal(result.inputRequests[CONFIRM_INPUT_KEY]?.method, 'elicitation/create')
    assert.equal(result.inputRequests[CONFIRM_INPUT_KEY]?.params.message, confirmationMessage(request))
    return result.requestState
  }

  test('the first round asks; the retry with the state and an accepted form confirms', async () => {
    const state = await firstRound()
    assert.equal(code(await confirm(modern({ requestState: state, inputResponses: { [CONFIRM_INPUT_KEY]: accept } }))), 'confirmed')
  })

  test('the confirmation is single-use: replaying the same state and answer is refused', async () => {
    const state = await firstRound()
    const retry = modern({ requestState: state, inputResponses: { [CONFIRM_INPUT_KEY]: accept } })
    assert.equal(code(await confirm(retry)), 'confirmed')
    assert.equal(code(await confirm(retry)), 'ERR_WRITE_CONFIRMATION_INVALID')
  })

  test('a confirmation for one statement does not run another (different binding)', async () => {
    const state = await firstRound()
    const other = { ...REQUEST, statementText: 'DELETE FROM orders', binding: 'b'.repeat(64) }
    const verdict = await confirm(modern({ requestState: state, inputResponses: { [CONFIRM_INPUT_KEY]: accept } }), other)
    assert.deepEqual(verdict, { kind: 'refused', code: 'ERR_WRITE_CONFIRMATION_INVALID', subject: 'binding' })
  })

  test('forged or tampered state, an answer without state, or state without answer: refused', async () => {
    const state = await firstRound()
    const [head, body, mac] = state.split('.')
    const tampered = `${head}.${body}x.${mac}`
    for (const round of [
      modern({ requestState: tampered, inputResponses: { [CONFIRM_INPUT_KEY]: accept } }),
      modern({ requestState: 'v1.e30.AAAA', inputResponses: { [CONFIRM_INPUT_KEY]: accept } }),
      modern({ inputResponses: { [CONFIRM_INPUT_KEY]: accept } }),
      modern({ requestState: state }),
      modern({ requestState: state, inputResponses: { other: accept } }),
    ]) {
      assert.equal(code(await confirm(round)), 'ERR_WRITE_CONFIRMATION_INVALID', JSON.stringify(round))
    }
  })

  test('decline and cancel are refusals', async () => {
    for (const answer of [{ action: 'decline' }, { action: 'cancel' }, { action: 'accept', content: { confirm: false } }]) {
      const state = await firstRound()
      assert.equal(code(await confirm(modern({ requestState: state, inputResponses: { [CONFIRM_INPUT_KEY]: answer } }))), 'ERR_WRITE_DECLINED')
    }
  })

  test('a request whose client capabilities lack elicitation is refused before asking', async () => {
    assert.equal(code(await confirm({ version: '2026-07-28', capabilities: {} })), 'ERR_WRITE_CONFIRMATION_UNAVAILABLE')
  })
})

test('the message puts facts first and the statement last, so SQL text cannot spoof them', () => {
  const message = confirmationMessage(REQUEST)
  const lines = message.split('\n')
  assert.equal(lines[1], 'Principal: alice')
  assert.equal(lines[2], 'Source: shop')
  assert.equal(lines[3], 'Statement: UPDATE on public.orders (needs: update)')
  assert.equal(lines[4], 'Parameters: ["paid",7]')
  assert.ok(message.endsWith(REQUEST.statementText))
})
