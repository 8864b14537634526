/** Runs a benchmark script as a child process on the same Node and returns its JSON stdout. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export async function runChild<T> (script: string, args: string[], timeoutMs: number): Promise<T> {
  const path = fileURLToPath(new URL(script, import.meta.url))
  const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => { out += chunk })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c, signal) => { resolve(signal != null ? -1 : c) })
    })
    if (code !== 0) throw new Error(`${script} ${code === -1 ? `was killed (timeout ${timeoutMs} ms or signal)` : `exited with code ${code}`}`)
    const line = out.trim().split('\n').pop() ?? ''
    return JSON.parse(line) as T
  } finally {
    clearTimeout(timer)
  }
}
