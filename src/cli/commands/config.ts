import type { Command } from 'commander'
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
        const health = await fetch(new URL('/health', daemon.url)).then(async r => await r.json() as { peerId?: string }).catch(() => ({} as { peerId?: string }))
        out = { repo: path, peerId: health.peerId, apiToken: daemon.token, daemon: { url: daemon.url, pid: daemon.pid } }
      } else {
        const { openRepo } = await import('../../storage/repo.ts')
        const repo = await openRepo(path)
        try {
          out = { repo: path, peerId: repo.peerId, apiToken: repo.config.apiToken, defaultBranch: repo.config.defaultBranch, version: repo.config.version, daemon: null }
        } finally {
          await repo.close()
        }
      }
      emit(options, out, () => Object.entries(out).map(([k, v]) => `${k}: ${v != null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n'))
    })
}
