/** `HOST:PORT` and `[v6]:PORT` parsing, and the loopback test used to keep the edge closed (I9). */
import { isIPv4, isIPv6 } from 'node:net'

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

export function parseListenAddress(text: string): ListenAddress | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  if (!match || match[3] === undefined) return null
  const host = match[1] ?? match[2]
  const port = Number(match[3])
  if (host === undefined || port > 65535) return null
  if (match[1] !== undefined && !isIPv6(host)) return null
  return { host, port }
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true
  if (isIPv4(host)) return host.startsWith('127.')
  if (isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}
