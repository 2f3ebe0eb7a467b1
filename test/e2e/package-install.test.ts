/**
 * What `npx sqlwarden` runs is the published package, not this checkout. `npm pack` the package (as
 * `npm publish` would: `prepack` builds it; here npm test has just built it), install the tarball
 * into an empty project (npm resolves the dependencies as a user's install does), and drive the
 * installed `sqlwarden` bin with no arguments over stdio with the MCP SDK's Client: the embedded
 * demo. Fails if `files` misses something the server loads at run time, if the bin loses its
 * shebang, or if something it imports is only a devDependency.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { assertBuilt } from '../helpers/cli-process.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
let dir = ''
let bin = ''

before(() => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'sqlwarden-pack-'))
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })) as {
    filename: string
    files: { path: string }[]
  }[]
  const tarball = packed[0]
  assert.ok(tarball !== undefined)
  const main = tarball.files.find((f) => f.path === 'dist/cli/main.js')
  assert.ok(main !== undefined, 'the bin is in the package')
  assert.ok(!tarball.files.some((f) => f.path.startsWith('test/') || f.path.startsWith('src/') || f.path.startsWith('bench/')), 'only what runs is shipped')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sqlwarden-pack-check', version: '1.0.0', private: true }))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(dir, tarball.filename)], { cwd: dir, stdio: 'pipe' })
  bin = join(dir, 'node_modules', '.bin', 'sqlwarden')
})

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
})

test('the installed package: `sqlwarden --version` answers', () => {
  const version = (JSON.parse(execFileSync('npm', ['pkg', 'get', 'version'], { cwd: ROOT, encoding: 'utf8' })) as string).trim()
  // stdout is the protocol channel: the version goes to stderr (run-cli.ts).
  const run = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  assert.equal(run.status, 0)
  assert.equal(run.stderr.trim(), `sqlwarden ${version}`)
})

test('the installed package: `sqlwarden` with no arguments serves the embedded demo over stdio, governed', async () => {
  const transport = new StdioClientTransport({ command: bin, args: [], cwd: dir, env: { ...process.env, SQLWARDEN_CACHE_DIR: join(dir, 'cache') } as Record<string, string>, stderr: 'pipe' })
  const client = new Client({ name: 'pack-check', version: '1' })
  await client.connect(transport)
  try {
    const tools = (await client.listTools()).tools.map((t) => t.name)
    for (const name of ['query', 'list_schemas', 'list_tables', 'describe_table', 'explain']) assert.ok(tools.includes(name), name)
    const read = (await client.callTool({ name: 'query', arguments: { sql: 'SELECT count(*) AS n FROM customers' } })) as { isError?: boolean; structuredContent?: { rows: string[][] } }
    assert.notEqual(read.isError, true)
    assert.ok(Number(read.structuredContent?.rows[0]?.[0]) > 0)
    const write = (await client.callTool({ name: 'query', arguments: { sql: 'DELETE FROM customers' } })) as { isError?: boolean; content: { text: string }[] }
    assert.equal(write.isError, true)
    assert.match(write.content[0]?.text ?? '', /^ERR_SQL_NOT_READ_ONLY: /)
  } finally {
    await client.close()
  }
})
