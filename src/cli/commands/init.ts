import type { Command } from 'commander'
import { globals } from '../context.ts'
import { emit } from '../output.ts'

export function registerInit (program: Command): void {
  program.command('init')
    .description('create a repository (blocks, refs and the node key) at --repo, $FRAMEHUB_REPO or ~/.framehub')
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      // Only what makes a repository: no node, so none of its services' modules load.
      const [{ resolveRepoPath }, { createRepo }] = await Promise.all([import('../../storage/repo-path.ts'), import('../../storage/repo-create.ts')])
      const { path, peerId } = await createRepo(resolveRepoPath(options.repo))
      emit(options, { peerId, repo: path }, () =>
        `initialized framehub repository in ${path}\npeer id: ${peerId}`)
    })
}
