/**
 * Operational logs go to fd 2 only: on stdio, stdout is the protocol channel. Secrets are redacted
 * by path (pino), and untrusted values sit under fixed keys, never as key names.
 */
import { pino, type Logger } from 'pino'

export type { Logger }

export const REDACT_PATHS = [
  'url',
  '*.url',
  'connectionString',
  '*.connectionString',
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'params',
  '*.params',
] as const

export function createLogger(level: string = 'info'): Logger {
  return pino(
    {
      level,
      base: { name: 'sqlwarden' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: true }),
  )
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
