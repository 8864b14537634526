import type { Command } from 'commander'
import { UsageError } from '../../core/errors.ts'
import { globals } from '../context.ts'
import { emit } from '../output.ts'

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
    .option('--log-level <level>', 'pino log level (fatal, error, warn, info, debug, trace, silent)', 'info')
    .action(async (opts: { api: string, logLevel: string }, command: Command) => {
      const options = globals(command)
      const { host, port } = parseHostPort(opts.api)
      const [{ createNode }, { createGateway }, { writeApiAddress, clearApiAddress }] = await Promise.all([
        import('../../node.ts'), import('../../http/app.ts'), import('../../storage/api-file.ts')
      ])
      const node = await createNode({ repo: options.repo, create: true })
      const app = await createGateway(node, { logger: { level: opts.logLevel } })
      let stopping: Promise<void> | undefined
      const stop = async (): Promise<void> => {
        await clearApiAddress(node.repo.path)
        await app.close()
        await node.close()
      }
      try {
        await app.listen({ host, port })
      } catch (err) {
        await node.close()
        const code = (err as { code?: string }).code
        throw new UsageError(`cannot listen on ${opts.api}: ${code === 'EADDRINUSE' ? 'address in use' : (err as Error).message}`)
      }
      const address = app.server.address()
      const bound = typeof address === 'object' && address != null ? address : { address: host, port }
      const url = `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`
      await writeApiAddress(node.repo.path, { url, pid: process.pid })
      emit(options, { url, peerId: node.peerId, repo: node.repo.path }, () => `framehub daemon: ${url} (repo ${node.repo.path}, peer ${node.peerId})`)
      await new Promise<void>((resolve) => {
        const onSignal = (): void => {
          stopping ??= stop().then(resolve, resolve)
        }
        process.once('SIGINT', onSignal)
        process.once('SIGTERM', onSignal)
      })
    })
}
