/**
 * `sqlwarden keys new`: a fresh API key, printed once, and the config entry that stores only its
 * hash. The key is not written anywhere else; lose it and make a new one.
 */
import { generateApiKey, hashApiKey } from '../auth/api-keys.js'
import type { KeysNewArgs } from './cli-args.js'

export async function runKeysNew(args: KeysNewArgs, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const key = generateApiKey()
  out.write(
    [
      `API key for ${args.principal} (shown once; give it to the client as "Authorization: Bearer <key>"):`,
      '',
      `  ${key}`,
      '',
      'Add this entry under auth.apiKeys in your sqlwarden config:',
      '',
      `  - principal: ${args.principal}`,
      `    roles: [${args.roles.join(', ')}]`,
      `    hash: ${hashApiKey(key)}`,
      '',
    ].join('\n'),
  )
  return 0
}
