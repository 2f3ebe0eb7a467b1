/** Input pieces shared by several tools. Every tool input is a strict object: unknown keys are refused. */
import { z } from 'zod'

export const sqlParam = z.union([z.string(), z.number(), z.boolean(), z.null()])

export const sqlParams = z
  .array(sqlParam)
  .max(65_535)
  .describe('Values for $1, $2, … in order. Sent as bound parameters, never spliced into the SQL.')

export const sourceName = z
  .string()
  .min(1)
  .max(63)
  .describe('Name of a configured source; the default source when omitted.')
