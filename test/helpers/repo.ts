import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'

/** A fresh temp directory, removed by the returned cleanup. */
export async function tempDir (prefix = 'framehub-test-'): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** A node on a fresh temp repository. */
export async function tempNode (): Promise<{ node: FramehubNode, dir: string, cleanup: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir()
  const node = await createNode({ repo: join(dir, 'repo'), create: true })
  return {
    node,
    dir,
    cleanup: async () => {
      await node.close().catch(() => {})
      await cleanup()
    }
  }
}

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  json: any
}

/**
 * `node ARGS` as a command line, run through `wrap` when given (a command that runs its
 * arguments, such as `ip netns exec NS`: a node on a test host of its own).
 */
export function wrapped (wrap: string[] | undefined, args: string[]): [string, ...string[]] {
  return wrap === undefined || wrap.length === 0 ? [process.execPath, ...args] : [...wrap, process.execPath, ...args] as [string, ...string[]]
}

/** Runs the real `framehub` CLI (this Node, the TypeScript entry point) and collects its output. */
export async function runCli (args: string[], options: { input?: string | Uint8Array, cwd?: string, env?: Record<string, string>, timeoutMs?: number, wrap?: string[] } = {}): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const [command, ...rest] = wrapped(options.wrap, [CLI, ...args])
    const child = spawn(command, rest, {
      cwd: options.cwd,
      env: { ...process.env, CI: 'true', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const stdout = Buffer.concat(out).toString()
      let json: unknown
      try { json = JSON.parse(stdout) } catch { json = undefined }
      resolve({ code: code ?? -1, stdout, stderr: Buffer.concat(err).toString(), json })
    })
    child.stdin.end(options.input ?? '')
  })
}
