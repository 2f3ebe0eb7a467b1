/**
 * stdio: one connection, one principal from config/environment. stdout is the protocol channel, so
 * nothing else in the process may write to it (logs go to fd 2).
 */
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio'
import type { Logger } from '../log/logger.js'
import type { Principal } from '../pipeline/request-context.js'
import { createMcpServer, type ServerEnvironment } from '../server/create-mcp-server.js'
import { CoalescingStdout } from './coalescing-stdout.js'

export interface StdioHandle {
  close(): Promise<void>
}

/** `env.deps` may still be opening: the transport answers `initialize` meanwhile (start-sqlwarden.ts). */
export function startStdio(env: Pick<ServerEnvironment, 'deps' | 'policy' | 'logger'>, principal: Principal, logger: Logger): StdioHandle {
  return serveStdio(() => createMcpServer({ ...env, transport: 'stdio', principal }), {
    transport: new StdioServerTransport(process.stdin, new CoalescingStdout(process.stdout)),
    onerror: (error) => logger.warn({ err: error }, 'stdio transport error'),
  })
}
