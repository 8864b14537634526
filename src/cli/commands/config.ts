import type { Command } from 'commander'
import type * as Wire from '../../core/api-types.ts'
import { globals } from '../context.ts'
import { emit } from '../output.ts'

export function registerConfig (program: Command): void {
  program.command('config')
    .description('show the repository settings: path, peer id, the gateway bearer token, the running daemon')
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      const [{ resolveRepoPath }, { readApiAddress }] = await Promise.all([
        import('../../storage/repo-path.ts'), import('../../storage/api-file.ts')
      ])
      const path = resolveRepoPath(options.repo)
      const daemon = await readApiAddress(path)
      let out: Record<string, unknown>
      if (daemon != null) {
        // The daemon holds the repository: what it published is what there is to show.
        const { createApiClient } = await import('../../client/api.ts')
        const health = await createApiClient({ url: daemon.url, token: daemon.token }, '')
          .json<Wire.Health>('/health').catch((): Partial<Wire.Health> => ({}))
        out = { repo: path, peerId: health.peerId, apiToken: daemon.token, daemon: { url: daemon.url, pid: daemon.pid } }
      } else {
        // The node opened here, as every command opens it (never the repository's storage directly).
        const { createNode } = await import('../../node.ts')
        const node = await createNode({ repo: path })
        try {
          const { config } = node.repo
          out = { repo: path, peerId: node.peerId, apiToken: config.apiToken, defaultBranch: config.defaultBranch, version: config.version, daemon: null }
        } finally {
          await node.close()
        }
      }
      emit(options, out, () => Object.entries(out).map(([k, v]) => `${k}: ${v != null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n'))
    })
}
