import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * A system Node older than 22.18 on this machine (the one that makes bin/framehub.js re-spawn
 * the CLI on the project's Node 24), if any: for the start-up bench and the signal tests.
 */
export function olderNode (): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    if (!existsSync(candidate)) continue
    try {
      const [major, minor] = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number) as [number, number]
      if (major < 22 || (major === 22 && minor < 18)) return candidate
    } catch {}
  }
  return undefined
}
