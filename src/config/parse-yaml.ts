/**
 * YAML parsing, with the parser loaded on first use: most starts (`--db URL`, `DATABASE_URL`, the
 * embedded default) read no file, and the parser is one of the largest things a start would
 * otherwise load (about 80 files; cold start, README → Performance).
 */
import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'

const require = createRequire(import.meta.url)
let yaml: typeof Yaml | null = null

export type YamlOptions = Parameters<typeof Yaml.parse>[2]

export function parseYaml(text: string, options: YamlOptions): unknown {
  yaml ??= require('yaml') as typeof Yaml
  return yaml.parse(text, options)
}
