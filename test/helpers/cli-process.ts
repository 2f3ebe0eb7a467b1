/**
 * Starts the BUILT CLI (dist/cli/main.js, as a user would run it) for end-to-end tests: over stdio
 * through the SDK's StdioClientTransport, or over HTTP, reading the bound URL from its stderr log.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first (npm test does)')
}

export function writeTempConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlwarden-e2e-'))
  const file = join(dir, 'config.yaml')
  writeFileSync(file, yaml)
  return file
}

export interface HttpServerProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly base: string
  stderr(): string
  stop(): Promise<void>
}

export async function startHttpCli(args: string[], env: Record<string, string> = {}): Promise<HttpServerProcess> {
  assertBuilt()
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  let out = ''
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 20_000)
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString()
      const match = /"endpoint":"(http:[^"]+)"/.exec(err)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${err}`))
    })
  })
  return {
    child,
    url,
    base: url.replace(/\/mcp$/, ''),
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
      if (out.length > 0) throw new Error(`the HTTP server wrote to stdout: ${out.slice(0, 200)}`)
    },
  }
}

/** Runs the CLI to completion (for start-up failures) and returns its exit code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertBuilt()
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
  clearTimeout(timer)
  return { code, stdout, stderr }
}
