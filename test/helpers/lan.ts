import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * Test hosts on a private LAN made of Linux network namespaces (iproute2): one namespace per host
 * with its own loopback and one veth, and a switch namespace holding two bridges. Every host
 * starts on bridge `a`; `split` moves some hosts' ports to bridge `b`, which cuts every packet
 * between the two groups while each group keeps talking inside itself (open TCP connections
 * stall, as on a real network cut); `heal` moves them back. Nothing leaves the namespaces the
 * test made. Needs root and iproute2; `createLan` answers why not otherwise (a test then skips).
 */
export interface Lan {
  /** The command that runs a process on host `name` (`ip netns exec NS`). */
  wrap: (name: string) => string[]
  /** Host `name`'s IPv4 address on the LAN. */
  ip: (name: string) => string
  /**
   * Host `name`'s address on its management link (`createLan(names, { management: true })`): a
   * link of its own to this host's namespace, which `split` never cuts, for a gateway that a
   * benchmark or test reads from here while the LAN is cut.
   */
  managementIp: (name: string) => string
  /** Cuts the hosts in `group` off from the others (each side still reaches its own). */
  split: (group: string[]) => Promise<void>
  /** Puts every host back on one LAN. */
  heal: () => Promise<void>
  /** Deletes the namespaces (and with them the veths and bridges). */
  close: () => Promise<void>
}

const ip = async (...args: string[]): Promise<void> => { await run('ip', args, { timeout: 10_000 }) }

export interface LanOptions {
  /** Give every host a management link to this namespace (10.78.<i>.2, this side 10.78.<i>.1). */
  management?: boolean
}

export async function createLan (names: string[], options: LanOptions = {}): Promise<Lan | string> {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  if (names.length > 200) return 'at most 200 hosts'
  const tag = `fh${process.pid % 100_000}`
  const sw = `${tag}-sw`
  const ns = (name: string): string => `${tag}-${names.indexOf(name)}`
  const port = (name: string): string => `${tag}s${names.indexOf(name)}`
  const made: string[] = []
  const removeAll = (): void => {
    for (const n of made.splice(0)) {
      try { execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore', timeout: 10_000 }) } catch {}
    }
  }
  // A run that dies before `close` still leaves no namespaces behind.
  process.once('exit', removeAll)
  try {
    await ip('netns', 'add', sw)
    made.push(sw)
    for (const bridge of ['bra', 'brb']) {
      await ip('-n', sw, 'link', 'add', bridge, 'type', 'bridge')
      await ip('-n', sw, 'link', 'set', bridge, 'up')
    }
    for (const [i, name] of names.entries()) {
      await ip('netns', 'add', ns(name))
      made.push(ns(name))
      await ip('link', 'add', `${tag}h${i}`, 'netns', ns(name), 'type', 'veth', 'peer', 'name', port(name), 'netns', sw)
      await ip('-n', ns(name), 'link', 'set', 'lo', 'up')
      await ip('-n', ns(name), 'addr', 'add', `10.77.0.${i + 1}/24`, 'dev', `${tag}h${i}`)
      await ip('-n', ns(name), 'link', 'set', `${tag}h${i}`, 'up')
      await ip('-n', sw, 'link', 'set', port(name), 'master', 'bra', 'up')
      if (options.management === true) {
        await ip('link', 'add', `${tag}m${i}`, 'type', 'veth', 'peer', 'name', `${tag}n${i}`, 'netns', ns(name))
        await ip('addr', 'add', `10.78.${i}.1/30`, 'dev', `${tag}m${i}`)
        await ip('link', 'set', `${tag}m${i}`, 'up')
        await ip('-n', ns(name), 'addr', 'add', `10.78.${i}.2/30`, 'dev', `${tag}n${i}`)
        await ip('-n', ns(name), 'link', 'set', `${tag}n${i}`, 'up')
      }
    }
  } catch (err) {
    removeAll()
    process.removeListener('exit', removeAll)
    return `network namespaces cannot be made here: ${(err as Error).message.split('\n')[0] as string}`
  }
  return {
    wrap: (name) => ['ip', 'netns', 'exec', ns(name)],
    ip: (name) => `10.77.0.${names.indexOf(name) + 1}`,
    managementIp: (name) => `10.78.${names.indexOf(name)}.2`,
    split: async (group: string[]) => { for (const name of group) await ip('-n', sw, 'link', 'set', port(name), 'master', 'brb') },
    heal: async () => { for (const name of names) await ip('-n', sw, 'link', 'set', port(name), 'master', 'bra') },
    close: async () => {
      removeAll()
      process.removeListener('exit', removeAll)
    }
  }
}
