/**
 * A TCP proxy in front of the test database that a test can freeze, shut and reopen, to play a
 * database that hangs, goes down and comes back, without touching the real server.
 */
import net from 'node:net'

export interface TcpProxy {
  readonly port: number
  /** Stop moving bytes in both directions (existing and new connections). */
  freeze(): void
  thaw(): void
  /** Close the listener and every connection: the database is "down". */
  shut(): Promise<void>
  /** Listen again on the same port. */
  reopen(): Promise<void>
  /**
   * From now on, a client write that contains `text` is not forwarded as it is: with `drop`, its
   * connection is closed instead (a backend that dies at that message); with `corrupt`, its first
   * byte of `text` is replaced by `!`, so the server refuses the message and the connection lives
   * on. Null stops it.
   */
  faultWhenClientSends(text: string | null, fault?: 'drop' | 'corrupt'): void
  /** The client writes forwarded while a fault was armed, as text (the protocol's bytes, latin1). */
  readonly forwardedDuringFault: string[]
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  let frozen = false
  const pairs = new Set<[net.Socket, net.Socket]>()
  let trigger: Buffer | null = null
  let faultKind: 'drop' | 'corrupt' = 'drop'
  const forwardedDuringFault: string[] = []

  const onConnection = (client: net.Socket) => {
    const upstream = net.connect(targetPort, targetHost)
    const pair: [net.Socket, net.Socket] = [client, upstream]
    pairs.add(pair)
    for (const s of pair) {
      sockets.add(s)
      s.on('error', () => undefined)
      s.on('close', () => {
        sockets.delete(s)
        pairs.delete(pair)
        for (const other of pair) other.destroy()
      })
      if (frozen) s.pause()
    }
    client.on('data', (chunk: Buffer) => {
      const at = trigger === null ? -1 : chunk.indexOf(trigger)
      if (at !== -1 && faultKind === 'drop') {
        client.destroy()
        upstream.destroy()
        return
      }
      if (at !== -1) chunk = Buffer.from(chunk).fill('!', at, at + 1)
      if (trigger !== null) forwardedDuringFault.push(chunk.toString('latin1'))
      upstream.write(chunk)
    })
    upstream.pipe(client)
  }

  let server = net.createServer(onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port

  return {
    port,
    forwardedDuringFault,
    faultWhenClientSends(text, fault = 'drop') {
      trigger = text === null ? null : Buffer.from(text, 'latin1')
      faultKind = fault
    },
    freeze() {
      frozen = true
      for (const s of sockets) s.pause()
    },
    thaw() {
      frozen = false
      for (const s of sockets) s.resume()
    },
    async shut() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
    async reopen() {
      server = net.createServer(onConnection)
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    },
  }
}

/** A port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A server that accepts connections and never answers (a black hole). */
export async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
