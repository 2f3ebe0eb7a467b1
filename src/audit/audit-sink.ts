/**
 * Where chained records go. A sink appends lines in order and resolves only when they are as
 * durable as its durability setting says; a rejection means none of the batch may be counted as
 * written (the log then fails the calls waiting on it, and re-reads the tail before the next batch).
 */
/** The last record a sink holds, to continue the chain from after a restart. */
export interface ChainTail {
  readonly chain: string
  readonly seq: number
  readonly hash: string
}

export interface SinkState {
  readonly tail: ChainTail | null
  /** Bytes of an unterminated last line (a crash mid-write), now closed off with a newline. */
  readonly tornTailBytes: number
  /** The id a new chain must take here (a replica's name in a shared table); default random. */
  readonly newChainId?: string
}

export interface AuditSink {
  /** Reads what is already there (file tail, table), once, before the first append. */
  open(): Promise<SinkState>
  /** Appends serialised records (one JSON line each, newline-terminated), in order, durably. */
  append(lines: string): Promise<void>
  /** Would appending this many bytes start a new file first (size or age)? */
  shouldRotate(bytes: number): boolean
  /** Starts a new file; returns the name the old one now has (for the `rotate` record). */
  rotate(): Promise<string>
  /** Called after a failed append: repair what can be repaired (truncate a partial batch). */
  recover(): Promise<SinkState>
  close(): Promise<void>
  /** True when append() does all its I/O synchronously (no timeout can apply to it). */
  readonly synchronous?: boolean
  /** For messages: where the records go (a path, `stderr`, a table). Never a secret. */
  readonly description: string
}
