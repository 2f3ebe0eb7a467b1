/** Loads the security corpus (test/security/corpus/<dialect>/<category>/<case>.json). */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface CorpusCase {
  readonly id: string
  readonly category: string
  readonly description: string
  readonly sql: string
  readonly params?: (string | number | boolean | null)[]
  readonly expect: string
  readonly requirement?: string
  readonly sideEffectCheck?: string
}

export function loadCorpus(dialect = 'postgres'): CorpusCase[] {
  const root = fileURLToPath(new URL(`./corpus/${dialect}`, import.meta.url))
  const cases: CorpusCase[] = []
  for (const category of readdirSync(root).sort()) {
    for (const file of readdirSync(join(root, category)).sort()) {
      if (!file.endsWith('.json')) continue
      const data = JSON.parse(readFileSync(join(root, category, file), 'utf8')) as Omit<CorpusCase, 'id' | 'category'>
      cases.push({ ...data, id: `${category}/${file.replace(/\.json$/, '')}`, category })
    }
  }
  return cases
}
