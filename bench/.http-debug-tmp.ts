import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
const mode = process.argv[2] ?? 'http'
writeFileSync('/tmp/swdbg.yaml', `sources:\n  bench:\n    kind: postgres\n    url: postgres://sqlwarden_bench_reader@127.0.0.1:5432/test\n    poolSize: 32\n    searchPath: [sw_bench]\nlog:\n  level: debug\n`)
const child = spawn(process.execPath, ['dist/cli/main.js', '--config', '/tmp/swdbg.yaml', '--http', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] })
let err = ''
child.stderr.on('data', (c) => (err += c))
while (!/"endpoint":"(http:[^"]+)"/.test(err)) await new Promise((r) => setTimeout(r, 50))
const url = /"endpoint":"(http:[^"]+)"/.exec(err)![1]!
const client = new Client({ name: 'dbg', version: '1' })
await client.connect(new StreamableHTTPClientTransport(new URL(url)))
let k = 0
await Promise.all(Array.from({ length: 32 }, async () => { for (let i = 0; i < 30; i++) { const r: any = await client.callTool({ name: 'query', arguments: { sql: 'SELECT id, name FROM sw_bench.items WHERE id = $1', params: [++k] } }); if (r.isError) console.log(JSON.stringify(r)) } }))
await client.close()
child.kill('SIGTERM')
await new Promise((r) => setTimeout(r, 500))
const lines = err.split('\n').filter((l) => !l.includes('"level":20') || true)
const counts = new Map<string, number>()
for (const l of lines) { const m = /"msg":"([^"]+)"/.exec(l); const r = /"reason":"([^"]+)"/.exec(l); if (m) { const key = m[1] + (r ? ' / ' + r[1] : ''); counts.set(key, (counts.get(key) ?? 0) + 1) } }
console.log(counts)
