/**
 * stdio: one connection, one principal from config/environment. stdout is the protocol channel, so
 * nothing else in the process may write to it (logs go to fd 2).
 */
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio'
import type { Logger } from '../log/logger.js'
import type { PipelineDeps } from '../pipeline/pipeline.js'
import type { Principal } from '../pipeline/request-context.js'
import { createMcpServer } from '../server/create-mcp-server.js'
import { CoalescingStdout } from './coalescing-stdout.js'

export interface StdioHandle {
  close(): Promise<void>
}

export function startStdio(deps: PipelineDeps, principal: Principal, logger: Logger): StdioHandle {
  return serveStdio(() => createMcpServer({ deps, transport: 'stdio', principal }), {
    transport: new StdioServerTransport(process.stdin, new CoalescingStdout(process.stdout)),
    onerror: (error) => logger.warn({ err: error }, 'stdio transport error'),
  })
}
