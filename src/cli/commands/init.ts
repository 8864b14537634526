import type { Command } from 'commander'
import { globals } from '../context.ts'
import { emit } from '../output.ts'

export function registerInit (program: Command): void {
  program.command('init')
    .description('create a repository (blocks, refs and the node key) at --repo, $FRAMEHUB_REPO or ~/.framehub')
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      const { initNode } = await import('../../node.ts')
      const node = await initNode({ repo: options.repo })
      try {
        emit(options, { peerId: node.peerId, repo: node.repo.path }, () =>
          `initialized framehub repository in ${node.repo.path}\npeer id: ${node.peerId}`)
      } finally {
        await node.close()
      }
    })
}
