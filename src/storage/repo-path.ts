import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** The file whose presence marks a finished repository. */
export const REPO_MARKER = 'framehub.json'

/** `--repo`, else `$FRAMEHUB_REPO`, else `~/.framehub`. Kept apart from repo.ts so the CLI finds a repository without loading LevelDB. */
export function resolveRepoPath (path?: string): string {
  return resolve(path ?? process.env.FRAMEHUB_REPO ?? join(homedir(), '.framehub'))
}

export function repoExists (path: string): boolean {
  return existsSync(join(path, REPO_MARKER))
}
