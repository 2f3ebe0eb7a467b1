/**
 * The MCP conformance suite (@modelcontextprotocol/conformance@0.1.13, pinned) against the real
 * HTTP server: server-initialize, ping, tools-list and dns-rebinding-protection.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { readerUrl, setupE2eDatabase, SHOP_SOURCE_YAML } from '../helpers/e2e-fixture.js'
import { startHttpCli, writeTempConfig, type HttpServerProcess } from '../helpers/cli-process.js'

const CONFORMANCE = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/conformance/dist/index.js', import.meta.url))
let server: HttpServerProcess

before(async () => {
  await setupE2eDatabase()
  const config = writeTempConfig(`${SHOP_SOURCE_YAML}http:\n  listen: 127.0.0.1:0\n`)
  server = await startHttpCli(['--config', config], { E2E_DB_URL: readerUrl() })
})

after(async () => {
  await server?.stop()
})

for (const scenario of ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection']) {
  test(`conformance: ${scenario}`, async () => {
    const child = spawn(process.execPath, [CONFORMANCE, 'server', '--url', server.url, '--scenario', scenario], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr.on('data', (c: Buffer) => (output += c.toString()))
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
    assert.equal(code, 0, output)
  })
}
