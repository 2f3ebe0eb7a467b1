/**
 * A protocol-level CancelRequest on a fresh socket (the way libpq's PQcancel works), so an aborted
 * or overdue statement stops on the server and not only in the client (DESIGN §4, client-side-only
 * timeouts). The request is sent unencrypted, as pg and libpq before PostgreSQL 17 do: it carries
 * only the backend's process id and cancel key, and the postmaster accepts it before any TLS or
 * pg_hba check.
 */
import { pg } from './pg-module.js'

/** The pg Client fields this needs; pg's typings do not declare them. */
interface CancellableClient {
  readonly processID: number | null
  readonly secretKey: number | null
  readonly connectionParameters: { readonly host?: string; readonly port?: number }
}

interface RawConnection {
  readonly stream: { destroy(): void }
  on(event: 'connect' | 'end' | 'error', listener: (...args: unknown[]) => void): void
  connect(portOrPath: number | string, host?: string): void
  cancel(processID: number, secretKey: number): void
}

const CANCEL_TIMEOUT_MS = 3_000

/** Resolves true once the postmaster has read the request and closed the socket. Never rejects. */
export function sendCancelRequest(client: unknown, timeoutMs: number = CANCEL_TIMEOUT_MS): Promise<boolean> {
  const { processID, secretKey, connectionParameters } = client as CancellableClient
  if (processID == null || secretKey == null) return Promise.resolve(false)
  const { host = 'localhost', port = 5432 } = connectionParameters
  return new Promise((resolve) => {
    const con = new (pg as unknown as { Connection: new () => RawConnection }).Connection()
    let settled = false
    const done = (sent: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      con.stream.destroy()
      resolve(sent)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    timer.unref()
    let requested = false
    con.on('error', () => done(requested))
    con.on('connect', () => {
      requested = true
      con.cancel(processID, secretKey)
    })
    con.on('end', () => done(requested))
    try {
      if (host.startsWith('/')) con.connect(`${host}/.s.PGSQL.${port}`)
      else con.connect(port, host)
    } catch {
      done(false)
    }
  })
}
