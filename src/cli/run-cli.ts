/**
 * The `sqlwarden` command (main.ts is its entry). On stdio, stdout belongs to the protocol: this file writes help,
 * version and errors to stderr, and only the `doctor` and `demo` reports (which don't serve
 * stdio) go to stdout.
 */
import { SERVER_VERSION } from '../server/server-info.js'
import { parseCliArgs, USAGE } from './cli-args.js'

async function main(argv: readonly string[]): Promise<number> {
  // The reviewer's commands have their own flags and never serve: parsed apart.
  if (argv[0] === 'audit') {
    const { parseAuditArgs } = await import('./audit-args.js')
    const audit = parseAuditArgs(argv.slice(1))
    if (!audit.ok) {
      process.stderr.write(`sqlwarden: ${audit.message.startsWith('Usage') ? '' : 'ERR_CONFIG_INVALID: '}${audit.message}\n`)
      return 2
    }
    return (await import('./audit-command.js')).runAudit(audit.args)
  }
  const args = parseCliArgs(argv)
  if (!args.ok) {
    process.stderr.write(`sqlwarden: ERR_CONFIG_INVALID: ${args.message}\n\n${USAGE}`)
    return 2
  }
  if (args.command === 'help') {
    process.stderr.write(USAGE)
    return 0
  }
  if (args.command === 'version') {
    process.stderr.write(`sqlwarden ${SERVER_VERSION}\n`)
    return 0
  }
  // demo and doctor load their modules (the MCP client, …) only when asked: start-up time matters.
  if (args.command === 'policy-explain') return (await import('./policy-explain-command.js')).runPolicyExplain(args.explain, args.overrides)
  if (args.command === 'policy-check') return (await import('./policy-command.js')).runPolicyCheck(args.file, args.overrides)
  if (args.command === 'keys-new') return (await import('./keys-command.js')).runKeysNew(args.keys)
  if (args.command === 'demo') return (await import('../demo/run-demo.js')).runDemo(args.overrides)

  // The server's modules load only now: `--version`, `--help` and a bad flag answer without them.
  const [{ loadConfig }, { createLogger }, { startSqlwarden }] = await Promise.all([
    import('../config/load-config.js'),
    import('../log/logger.js'),
    import('../server/start-sqlwarden.js'),
  ])
  const loaded = loadConfig(args.overrides)
  if (!loaded.ok) {
    process.stderr.write(`sqlwarden: ERR_CONFIG_INVALID: ${loaded.message}\n`)
    return 2
  }
  const config = loaded.config
  const logger = createLogger(config.log.level)
  if (args.command === 'doctor') return (await import('./doctor-command.js')).runDoctor(config, logger)

  const started = await startSqlwarden(config, logger)
  if (!started.ok) {
    process.stderr.write(`sqlwarden: ${started.message.startsWith('ERR_') ? '' : 'ERR_CONFIG_INVALID: '}${started.message}\n`)
    return 2
  }
  const running = started.running
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    // stdio: the client closing stdin ends the session (MCP stdio binding).
    if (running.transport === 'stdio') process.stdin.once('end', stop).once('close', stop)
  })
  await running.close()
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // Pools and workers are closed; a leftover timer must not keep a finished CLI alive.
    setTimeout(() => process.exit(code), 2_000).unref()
  },
  (error: unknown) => {
    process.stderr.write(`sqlwarden: ERR_INTERNAL: ${error instanceof Error ? error.name : 'error'}\n`)
    process.exit(70)
  },
)
