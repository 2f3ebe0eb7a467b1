/**
 * The `pg` module, for the two files of this folder that need its runtime values (the driver's
 * pool and the cancel request's client). Loaded behind pg-runtime-hint.ts: see there why.
 */
import { removeNavigator } from './pg-runtime-hint.js'
import pg from 'pg'

removeNavigator()

export { pg }
