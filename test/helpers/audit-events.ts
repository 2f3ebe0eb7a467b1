/** A realistic call event for audit tests. */
import type { CallEvent } from '../../src/audit/audit-record.js'

export function callEvent(n: number, over: Partial<CallEvent> = {}): CallEvent {
  return {
    request_id: `r${n}`,
    trace_id: null,
    principal: 'alice',
    roles: ['analyst'],
    auth_method: 'stdio',
    client: { name: 'test', version: '1' },
    transport: 'stdio',
    source: 'main',
    tool: 'query',
    decision: 'allow',
    reason: null,
    stage: 'response',
    statement_class: 'select',
    fingerprint: 'abc',
    normalized_sql: 'SELECT $1',
    param_count: 1,
    rows: 1,
    bytes: 10,
    truncated: false,
    duration_ms: 1.5,
    error_code: null,
    ...over,
  }
}

