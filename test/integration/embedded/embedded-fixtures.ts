/**
 * Shared helpers for the embedded-database tests: temp directories, a capturing logger, and a
 * minimal SourceDriver over a plain `pg.Client`, so the watchdog can be tested on its own, without
 * the real Postgres driver.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import pg from 'pg'
import { pino } from 'pino'
import type { Logger } from '../../../src/log/logger.js'
import { fail, ok } from '../../../src/util/result.js'
import type { ReadResult, SourceDriver } from '../../../src/exec/drivers/driver.js'
import type { EmbeddedInnerDriverOptions, PostgresDriverFactory } from '../../../src/exec/embedded/embedded-driver.js'

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `sqlwarden-test-${prefix}-`))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

export interface LogRecord {
  readonly level: number
  readonly msg: string
  readonly [key: string]: unknown
}

/** A pino logger that keeps every record in memory, so tests can assert what was logged. */
export function captureLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') records.push(JSON.parse(line) as LogRecord)
      }
      callback()
    },
  })
  return { logger: pino({ level: 'debug' }, sink), records }
}

export function messages(records: readonly LogRecord[]): string[] {
  return records.map((r) => r.msg)
}

/** Runs one query on a fresh connection and closes it. */
export async function queryOnce<T extends pg.QueryResultRow>(
  connectionString: string,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString })
  client.on('error', () => undefined)
  await client.connect()
  try {
    return (await client.query<T>(sql, values)).rows
  } finally {
    await client.end().catch(() => undefined)
  }
}

export async function demoCounts(connectionString: string): Promise<{ customers: number; products: number; orders: number }> {
  const [row] = await queryOnce<{ customers: number; products: number; orders: number }>(
    connectionString,
    `SELECT (SELECT count(*) FROM customers)::int AS customers,
            (SELECT count(*) FROM products)::int AS products,
            (SELECT count(*) FROM orders)::int AS orders`,
  )
  if (row === undefined) throw new Error('no counts')
  return row
}

/**
 * A stand-in for the Postgres driver: `read` only, one connection per call, `BEGIN READ ONLY` and
 * always ROLLBACK. Records every options object it was created with.
 */
export function plainPgDriverFactory(): { factory: PostgresDriverFactory; created: EmbeddedInnerDriverOptions[] } {
  const created: EmbeddedInnerDriverOptions[] = []
  const notUsed = async () => fail('ERR_INTERNAL')
  const factory: PostgresDriverFactory = (options) => {
    created.push(options)
    const driver: SourceDriver = {
      dialect: 'postgres',
      write: async () => fail('ERR_WRITE_SOURCE_READ_ONLY'),
      async read(request) {
        const client = new pg.Client({ connectionString: options.connectionString })
        client.on('error', () => undefined)
        try {
          await client.connect()
          await client.query('BEGIN READ ONLY')
          const result = await client.query({ text: request.sql, values: [...request.params], rowMode: 'array' })
          await client.query('ROLLBACK')
          const value: ReadResult = {
            columns: result.fields.map((f) => ({ name: f.name, type: String(f.dataTypeID) })),
            rows: result.rows as ReadResult['rows'],
            rowCount: result.rows.length,
            truncated: false,
            truncatedBy: null,
            bytes: 0,
          }
          return ok(value)
        } catch (error) {
          return fail('ERR_SOURCE_UNAVAILABLE', { cause: error })
        } finally {
          await client.end().catch(() => undefined)
        }
      },
      explain: notUsed,
      listSchemas: notUsed,
      listTables: notUsed,
      describeTable: notUsed,
      lookupFunctions: notUsed,
      lookupOperators: notUsed,
      lookupRelations: notUsed,
      lookupTypes: notUsed,
      inspectRole: notUsed,
      async close() {},
    }
    return driver
  }
  return { factory, created }
}

export const LIMITS = Object.freeze({ maxRows: 100, maxBytes: 1024 * 1024, statementTimeoutMs: 5_000 })
