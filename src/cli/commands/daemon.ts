import type { Command } from 'commander'
import { UsageError } from '../../core/errors.ts'
import { collect, globals } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { emit } from '../output.ts'
import { parseAllowHost } from '../../http/plugins/host.ts'

/** How long the daemon may take to close the gateway and the repository after a signal, ms. */
const STOP_TIMEOUT_MS = 10_000
/** A second stop signal within this long of the first is the same request delivered twice, ms. */
const REPEAT_MS = 1_000
/** How often a daemon started by npm checks that its parent is still there, ms. */
const PARENT_POLL_MS = 500
/** Info and debug lines of the start, before the gateway's logger exists, kept to be logged by it. */
const EARLY_LOGS = 1000

/** Parses HOST:PORT (IPv6 as [::1]:PORT). */
export function parseHostPort (text: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text)
  const port = Number(m?.[3])
  if (m == null || port > 65535) throw new UsageError(`--api wants HOST:PORT (e.g. 127.0.0.1:8080), not "${text}"`)
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port }
}

export function registerDaemon (program: Command): void {
  program.command('daemon')
    .description('open the repository (created on first start) and serve the HTTP gateway until Ctrl-C')
    .option('--api <host:port>', 'where the gateway listens (loopback unless told otherwise)', '127.0.0.1:8080')
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default: TCP and WebSocket on 127.0.0.1, ports picked by the OS)', collect)
    .option('--bootstrap <multiaddr>', 'peer to dial at start and keep redialling, repeatable (…/p2p/PEER-ID)', collect)
    .option('--network <name>', 'swarm name: nodes of the same network replicate each other', 'default')
    .option('--public', 'join the public IPFS network: public bootstrap list, Amino DHT, providing (off by default)')
    .option('--no-auto-publish', 'do not publish commits to shared/* branches and session heads automatically')
    .option('--no-follow', 'do not follow consensus: shared/* branches only fast-forward to peers\' heads, diverged heads stay remote refs')
    .option('--offline', 'no libp2p at all: serve the gateway only')
    .option('--allow-host <host[:port]>', 'answer requests whose Host header names HOST (any port) or HOST:PORT, repeatable; * for any (default: the --api address, localhost, and 127.0.0.1 and [::1] on loopback; any host when listening on 0.0.0.0 or ::)', collect)
    .option('--log-level <level>', 'pino log level (fatal, error, warn, info, debug, trace, silent)', 'info')
    .option('--log-requests', 'log every request (Fastify\'s access log, two info lines each; on at --log-level debug or trace). By default only requests that answer 5xx or take 1 s or more are logged')
    .action(async (opts: { api: string, logLevel: string, logRequests?: boolean, allowHost?: string[], listen?: string[], bootstrap?: string[], network: string, public?: boolean, autoPublish: boolean, follow: boolean, offline?: boolean }, command: Command) => {
      const options = globals(command)
      const { host, port } = parseHostPort(opts.api)
      const allowHosts = opts.allowHost ?? []
      for (const h of allowHosts) {
        try { parseAllowHost(h) } catch (err) { throw new UsageError((err as Error).message) }
      }
      const [{ createNode }, { createGateway }, { writeApiAddress, clearApiAddress }, { networkConfig }] = await Promise.all([
        import('../../node.ts'), import('../../http/app.ts'), import('../../storage/api-file.ts'), import('../../network/config.ts')
      ])
      // Checked before anything is opened: a bad address is a usage error, not a half-started node.
      const network = opts.offline === true ? undefined : networkConfig({ listen: opts.listen, bootstrap: opts.bootstrap, network: opts.network, public: opts.public === true })
      // Network logs go to the gateway's pino logger once it exists. Until then (the node and its
      // network start first) warnings go to stderr, and the rest is kept, up to EARLY_LOGS
      // lines, and logged when the logger exists, each with the time it happened (`at`).
      let logger: { info: (o: object, m: string) => void, warn: (o: object, m: string) => void, debug: (o: object, m: string) => void } | undefined
      const early: Array<{ level: 'info' | 'debug', o: object, m: string, at: number }> = []
      const keep = (level: 'info' | 'debug', o: object, m: string): void => { if (early.length < EARLY_LOGS) early.push({ level, o, m, at: Date.now() }) }
      const log = {
        info: (o: object, m: string) => { if (logger != null) logger.info(o, m); else keep('info', o, m) },
        warn: (o: object, m: string) => { if (logger != null) logger.warn(o, m); else process.stderr.write(`framehub daemon: ${m} ${JSON.stringify(o)}\n`) },
        debug: (o: object, m: string) => { if (logger != null) logger.debug(o, m); else keep('debug', o, m) }
      }
      // A long-running node: its frame index is kept caught up and queued pin requests resume.
      const node = await createNode({ repo: options.repo, create: true, background: true, log, network: network != null ? { ...network, autoPublish: opts.autoPublish, follow: opts.follow, sessionPublishMs: opts.autoPublish ? undefined : 0, log } : undefined })
      // Logs go to stderr: stdout carries only the address line (one JSON document with --json).
      // Load Helia (pins, attachments) before the first request: importing it blocks the event
      // loop for most of a second, which the load shedder would read as overload.
      await node.repo.helia()
      const app = await createGateway(node, {
        logger: { level: opts.logLevel, stream: process.stderr, redact: ['req.headers.authorization'] },
        logRequests: opts.logRequests === true || opts.logLevel === 'debug' || opts.logLevel === 'trace' ? 'all' : 'problems',
        allowHosts
      }).catch(async (err: unknown) => {
        await node.close()
        throw err
      })
      logger = app.log
      for (const { level, o, m, at } of early.splice(0)) logger[level]({ ...o, at: new Date(at).toISOString() }, m)
      // A library's stray rejection (a peer that hung up mid-exchange) is logged; it must not
      // take the node down with every connection it serves.
      process.on('unhandledRejection', (err) => { app.log.error({ err }, 'unhandled rejection') })
      try {
        await app.listen({ host, port })
      } catch (err) {
        await app.close().catch(() => {})
        await node.close()
        const code = (err as { code?: string }).code
        const why = code === 'EADDRINUSE' ? 'address in use' : code === 'EADDRNOTAVAIL' ? 'no such local address' : code === 'EACCES' ? 'permission denied' : (err as Error).message
        throw new UsageError(`cannot listen on ${opts.api}: ${why}`)
      }
      const address = app.server.address()
      const bound = typeof address === 'object' && address != null ? address : { address: host, port }
      const url = `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`

      let stopping: Promise<void> | undefined
      const stop = async (): Promise<void> => {
        // The address goes first: from now on CLI commands stop coming here.
        await clearApiAddress(node.repo.path).catch(() => {})
        await app.close()
        await node.close()
      }
      const stopped = new Promise<void>((resolve) => {
        let firstSignal = 0
        const onSignal = (): void => {
          if (stopping != null) {
            // A Ctrl-C reaches every process of the terminal's group, and a wrapper that forwards
            // signals (npm start, bin/framehub.js on an older Node) sends it once more: a repeat
            // within REPEAT_MS is that same request. A later one: the user does not want to wait.
            if (performance.now() - firstSignal < REPEAT_MS) return
            process.stderr.write('framehub daemon: stopping now\n')
            process.exit(EXIT.failure)
          }
          firstSignal = performance.now()
          // Closing is bounded: a stuck request or store must not keep the process alive.
          setTimeout(() => {
            process.stderr.write(`framehub daemon: did not stop within ${STOP_TIMEOUT_MS} ms, exiting\n`)
            process.exit(EXIT.failure)
          }, STOP_TIMEOUT_MS).unref()
          // Stopping starts after the signals already waiting are handled (they are the same
          // request): its synchronous start must not make a signal sent with this one look late.
          stopping = new Promise<void>(resolve => { setImmediate(resolve) }).then(stop).then(resolve, (err: unknown) => {
            process.stderr.write(`framehub daemon: error while stopping: ${(err as Error).message}\n`)
            process.exitCode = EXIT.failure
            resolve()
          })
        }
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
        process.on('SIGHUP', onSignal) // its terminal went away
        // Started by npm (`npx framehub daemon`, an npm script that does not exec): npm passes a
        // stop signal to the shell it runs the command in, and that shell dies without passing
        // it on. Losing that parent is the stop request, so the daemon never outlives npm.
        if (process.env.npm_command != null) {
          const parent = process.ppid
          setInterval(() => { if (process.ppid !== parent && stopping == null) onSignal() }, PARENT_POLL_MS).unref()
        }
      })

      try {
        await writeApiAddress(node.repo.path, { url, pid: process.pid, token: node.repo.config.apiToken })
      } catch (err) {
        await app.close().catch(() => {})
        await node.close()
        throw err
      }
      const addresses = node.network?.addresses() ?? []
      emit(options, { url, peerId: node.peerId, repo: node.repo.path, network: network?.network ?? null, addresses },
        () => [`framehub daemon: ${url} (repo ${node.repo.path}, peer ${node.peerId})`, ...(network != null ? [`network ${network.network}, listening on:`, ...addresses.map(a => `  ${a}`)] : ['offline (no libp2p)'])].join('\n'))
      await stopped
    })
}
