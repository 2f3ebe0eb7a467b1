/**
 * Properties over the security corpus (fast-check):
 * 1. The outcome does not change when whitespace and comments between tokens change or keywords
 *    change case: the decision is about the parse tree, never the spelling.
 * 2. An allowed read stays allowed when wrapped as a subquery or a CTE.
 * 3. Any write of the corpus spliced after an allowed read with `;` is refused.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import fc from 'fast-check'
import { analyzeSql } from '../../../src/sql/analyze-sql.js'
import { loadPostgresParser, scanPostgres } from '../../../src/sql/parser/postgres-parser.js'
import { classifySql, CORPUS_LIMITS } from '../../security/classify-sql.js'
import { loadPostgresCorpus } from '../../security/load-postgres-corpus.js'

const corpus = loadPostgresCorpus()

/** Cases whose text the rewrite below can keep under the length cap and that parse. */
const rewritable = corpus.filter(
  (entry) => entry.sql.length <= 5_000 && !['ERR_SQL_TOO_LARGE', 'ERR_SQL_EMPTY', 'ERR_SQL_PARSE'].includes(entry.expect),
)
const allowedReads = corpus.filter((entry) => entry.expect === 'allow')
const writes = corpus.filter((entry) => entry.expect === 'ERR_SQL_NOT_READ_ONLY')

/** Whitespace, or a comment with whitespace before it (`-` then `-- c` would lex as one comment). */
const separator = fc.constantFrom(' ', '  ', '\n', '\t', ' \r\n ', ' /**/', ' /* c */ ', ' /* a /* nested */ b */ ', ' -- note\n', '\n-- ; DROP TABLE t\n')

/**
 * Keywords PostgreSQL's grammar disambiguates by looking at the next token (parser.c base_yylex:
 * NOT_LA, NULLS_LA, WITH_LA, WITHOUT_LA, FORMAT_LA, and UESCAPE after U& literals). libpg-query
 * keeps comments in that lookahead, so `NULLS /* c *\/ LAST` is a syntax error there although
 * PostgreSQL accepts it. That difference fails closed (a refusal, never a different accepted tree),
 * so the rewrite below puts only whitespace around these tokens.
 */
const LOOKAHEAD_KEYWORDS = new Set(['NOT', 'NULLS', 'WITH', 'WITHOUT', 'FORMAT', 'UESCAPE'])

/** Re-spells `sql` token by token: new separators between tokens, random case for keywords. */
function respell(sql: string, separators: readonly string[], upper: readonly boolean[]): string {
  const scanned = scanPostgres(sql)
  assert.ok(scanned.ok, `scan failed for ${sql}`)
  const tokens = scanned.value
  let out = ''
  tokens.forEach((token, index) => {
    let text = token.text
    if (token.keyword && /^[A-Za-z_]+$/.test(text)) text = upper[index % upper.length] ? text.toUpperCase() : text.toLowerCase()
    out += text
    const next = tokens[index + 1]?.text.toUpperCase()
    const separatorChoice = separators[index % separators.length] ?? ' '
    if (token.tokenName === 'SQL_COMMENT') {
      // A line comment runs to the end of the line: the next token must start on a new one.
      out += '\n'
    } else if (LOOKAHEAD_KEYWORDS.has(token.text.toUpperCase()) || next === 'UESCAPE') {
      out += separatorChoice.includes('-') || separatorChoice.includes('/') ? ' ' : separatorChoice
    } else {
      out += separatorChoice
    }
  })
  return out
}

before(async () => {
  await loadPostgresParser()
})

describe('corpus properties', () => {
  test('the outcome is invariant under whitespace, comments and keyword case', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...rewritable),
        fc.array(separator, { minLength: 1, maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
        async (entry, separators, upper) => {
          const original = await classifySql(entry.sql)
          const rewritten = respell(entry.sql, separators, upper)
          // Long separators between the ~1,000 tokens of a long IN list can push the text past the
          // length cap, a different (and correct) refusal: such rewrites say nothing about spelling.
          fc.pre(rewritten.length <= CORPUS_LIMITS.maxSqlLength)
          const again = await classifySql(rewritten)
          assert.equal(again.outcome, original.outcome, `${entry.id}\n${rewritten}`)
          assert.equal(original.outcome, entry.expect, entry.id)
        },
      ),
      { numRuns: 400 },
    )
  })

  test('an allowed read stays allowed as a subquery or a CTE', async () => {
    const selects = allowedReads.filter((entry) => {
      const analysed = analyzeSql(entry.sql, CORPUS_LIMITS)
      return analysed.ok && analysed.value.statementClass === 'select'
    })
    assert.ok(selects.length >= 80)
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...selects), fc.constantFrom('subquery', 'cte', 'both'), async (entry, shape) => {
        const analysed = analyzeSql(entry.sql, CORPUS_LIMITS)
        assert.ok(analysed.ok)
        // A newline before the closing parenthesis ends a trailing line comment.
        const inner = `${analysed.value.statementText}\n`
        const wrapped =
          shape === 'subquery'
            ? `SELECT * FROM (${inner}) AS wrapped`
            : shape === 'cte'
              ? `WITH wrapped AS (${inner}) SELECT * FROM wrapped`
              : `WITH wrapped AS (SELECT * FROM (${inner}) AS inner_wrapped) SELECT count(*) FROM wrapped`
        const outcome = await classifySql(wrapped)
        assert.equal(outcome.outcome, 'allow', `${entry.id} as ${shape}: ${outcome.outcome} ${outcome.subject ?? ''}`)
        const wrappedAnalysis = analyzeSql(wrapped, CORPUS_LIMITS)
        assert.ok(wrappedAnalysis.ok)
        assert.deepEqual(
          [...wrappedAnalysis.value.relations].map((ref) => `${ref.schema}.${ref.name}`).sort(),
          [...analysed.value.relations].map((ref) => `${ref.schema}.${ref.name}`).sort(),
          `${entry.id}: wrapping must not change the relations read`,
        )
      }),
      { numRuns: 300 },
    )
  })

  test('a write spliced after an allowed read is refused', async () => {
    assert.ok(writes.length >= 50)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...allowedReads),
        fc.constantFrom(...writes),
        fc.constantFrom(';', ';\n', ' ; ', ';;', ';/* c */', '; -- c\n'),
        async (read, write, joiner) => {
          // The newline ends a trailing line comment of the read, which would otherwise swallow the rest.
          const spliced = `${read.sql}\n${joiner}${write.sql}`
          const outcome = await classifySql(spliced)
          assert.equal(outcome.outcome, 'ERR_SQL_MULTI_STATEMENT', `${read.id} + ${write.id}`)
        },
      ),
      { numRuns: 400 },
    )
  })
})
