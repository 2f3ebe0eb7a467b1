/**
 * For `sqlwarden doctor`: does something sit between sqlwarden and PostgreSQL, and does it share
 * sessions between connections? The driver refuses a source at the first call that proves a shared
 * session (postgres-session-identity.ts, D30); doctor says so before any call is made.
 *
 * - Proxied: the backend pid a connection reports (`pg_backend_pid()`) is not the one announced in
 *   its BackendKeyData. PostgreSQL announces its own; a pooler or proxy announces its own key, so
 *   the cancel requests come to it. Informational: a session-mode pooler is supported.
 * - Shared: two connections each mark their session (sessionMarkSql), then read their marks back
 *   in turns. On PostgreSQL directly, or through a session-mode pooler, each reads its own every
 *   time. A transaction- or statement-mode pooler runs each transaction on whichever server
 *   connection is free, so one of the reads finds the other's mark (PgBouncer hands out the most
 *   recently used server connection first, which makes it the first read), or none. A probe that
 *   finds nothing shared is evidence, not proof; the driver's check runs on every call regardless.
 */
import type { Client } from 'pg'
import { ok, type Result } from '../../../util/result.js'
import { pg } from './pg-module.js'
import { mapPostgresError } from './postgres-errors.js'
import { newSessionMark, sessionMarkSql } from './postgres-session-identity.js'
import { pgSslConfig, withoutSslParams, type PostgresSslOptions } from './postgres-ssl.js'

export interface SessionProbe {
  /** Something other than PostgreSQL answers the connection (BackendKeyData pid ≠ the backend's pid). */
  readonly proxied: boolean
  /** Two connections were seen in one session: transaction or statement pooling. */
  readonly shared: boolean
}

const ROUNDS = 4
const READ_MARK_SQL = "SELECT pg_catalog.current_setting('sqlwarden.session', true) AS mark, pg_catalog.pg_backend_pid() AS pid"

export async function probeSessions(options: { readonly connectionString: string; readonly ssl?: PostgresSslOptions }): Promise<Result<SessionProbe>> {
  const config = {
    connectionString: options.ssl === undefined ? options.connectionString : withoutSslParams(options.connectionString),
    ...(options.ssl === undefined ? {} : { ssl: pgSslConfig(options.ssl) }),
    connectionTimeoutMillis: 3_000,
    application_name: 'sqlwarden doctor',
  }
  const clients: Client[] = [new pg.Client(config), new pg.Client(config)]
  for (const client of clients) client.on('error', () => undefined)
  try {
    await Promise.all(clients.map((c) => c.connect()))
    const marks = clients.map(() => newSessionMark())
    for (const [i, client] of clients.entries()) await client.query(sessionMarkSql(marks[i]!))
    let proxied = false
    let shared = false
    for (let round = 0; round < ROUNDS && !shared; round++) {
      for (const [i, client] of clients.entries()) {
        const row = (await client.query<{ mark: string | null; pid: number }>(READ_MARK_SQL)).rows[0]
        if (row?.mark !== marks[i]) shared = true
        const announced = (client as unknown as { processID?: number }).processID
        if (row !== undefined && announced !== row.pid) proxied = true
      }
    }
    return ok({ proxied, shared })
  } catch (error) {
    return mapPostgresError(error, { cancelledBy: null, connecting: true })
  } finally {
    await Promise.allSettled(clients.map((c) => c.end()))
  }
}
