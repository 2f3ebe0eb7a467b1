/**
 * `sqlwarden demo`: starts sqlwarden on the embedded demo database as a child process, drives it
 * through the MCP SDK's real `Client` over stdio, and narrates a short session. Exits 0 only when
 * every step behaved as a governed read-only server must.
 */
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import type { CliOverrides } from '../config/load-config.js'

type CallResult = { isError?: boolean; content?: { type: string; text?: string }[]; structuredContent?: Record<string, unknown> }

export async function runDemo(overrides: CliOverrides, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const here = fileURLToPath(import.meta.url)
  const main = fileURLToPath(new URL(here.endsWith('.ts') ? '../cli/main.ts' : '../cli/main.js', import.meta.url))
  const args = [...process.execArgv, main]
  if (overrides.db !== undefined) args.push('--db', overrides.db)
  if (overrides.configFile !== undefined) args.push('--config', overrides.configFile)
  const transport = new StdioClientTransport({ command: process.execPath, args, stderr: 'pipe' })
  let serverLog = ''
  transport.stderr?.on('data', (chunk: Buffer) => {
    serverLog += chunk.toString()
  })
  const client = new Client({ name: 'sqlwarden-demo', version: '1.0.0' })
  const say = (text: string) => out.write(`${text}\n`)
  const failures: string[] = []
  const expect = (cond: boolean, what: string) => {
    if (!cond) failures.push(what)
  }
  const call = async (name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as CallResult
  const text = (r: CallResult) => r.content?.find((c) => c.type === 'text')?.text ?? ''

  try {
    say('Starting sqlwarden on the embedded demo database (first run builds it; later runs reuse it)…')
    const started = performance.now()
    await client.connect(transport)
    say(`Connected over stdio in ${Math.round(performance.now() - started)} ms.\n`)

    const tools = await client.listTools()
    say(`1. The agent lists the tools: ${tools.tools.map((t) => t.name).join(', ')}`)

    const tables = await call('list_tables', {})
    const tableNames = ((tables.structuredContent?.tables as { name: string }[] | undefined) ?? []).map((t) => t.name)
    say(`2. list_tables → ${tableNames.join(', ')}`)
    expect(!tables.isError && tableNames.includes('customers'), 'list_tables shows customers')

    const described = await call('describe_table', { table: 'customers' })
    const columns = ((described.structuredContent?.columns as { name: string; type: string }[] | undefined) ?? [])
    say(`3. describe_table customers → ${columns.map((c) => `${c.name} ${c.type}`).join(', ')}`)
    expect(!described.isError && columns.some((c) => c.name === 'email'), 'describe_table shows columns')

    const regions = await call('query', { sql: 'SELECT region, count(*) AS customers FROM customers GROUP BY region ORDER BY region' })
    const firstRegion = (regions.structuredContent?.rows as unknown[][] | undefined)?.[0]?.[0]
    say(`4. query with a parameter: customers in region $1 = ${JSON.stringify(firstRegion)}`)
    const sql = 'SELECT id, name, created_at FROM customers WHERE region = $1 ORDER BY id LIMIT 3'
    const inRegion = await call('query', { sql, params: [firstRegion ?? null] })
    say(`   SQL: ${sql}\n${indent(text(inRegion))}`)
    expect(!inRegion.isError && inRegion.structuredContent?.row_count === 3, 'parameterised query returns 3 rows')

    const write = await call('query', { sql: 'DELETE FROM orders WHERE id = 1' })
    say(`5. A write is refused before it reaches the database:\n   ${text(write)}`)
    expect(write.isError === true && text(write).startsWith('ERR_SQL_NOT_READ_ONLY'), 'DELETE refused')

    const escape = await call('query', { sql: 'SELECT 1; COMMIT; DROP TABLE orders' })
    say(`6. The stacked-statement escape that broke the reference server:\n   ${text(escape)}`)
    expect(escape.isError === true && text(escape).startsWith('ERR_SQL_MULTI_STATEMENT'), 'stacked statements refused')

    const fileRead = await call('query', { sql: "SELECT * FROM pg_read_file('/etc/passwd')" })
    say(`7. A file read hidden in the FROM clause:\n   ${text(fileRead)}`)
    expect(fileRead.isError === true && text(fileRead).startsWith('ERR_SQL_FORBIDDEN_FUNCTION'), 'pg_read_file refused')

    const all = await call('query', { sql: 'SELECT * FROM orders' })
    const sc = all.structuredContent ?? {}
    say(`8. An unbounded query is capped: row_count=${String(sc.row_count)}, truncated=${String(sc.truncated)} (by ${String(sc.truncated_by)})`)
    expect(!all.isError && sc.truncated === true, 'unbounded query truncated')

    say(failures.length === 0 ? '\nDemo finished: every step behaved as expected.' : `\nDemo FAILED: ${failures.join('; ')}`)
    return failures.length === 0 ? 0 : 1
  } catch (error) {
    say(`Demo failed: ${error instanceof Error ? error.message : String(error)}`)
    if (serverLog) process.stderr.write(serverLog)
    return 1
  } finally {
    await client.close().catch(() => undefined)
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `   ${line}`)
    .join('\n')
}
