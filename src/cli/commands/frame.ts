import type { Command } from 'commander'
import type { CID } from 'multiformats/cid'
import { parseCid } from '../../core/cid.ts'
import { MAX_JSON_TEXT_BYTES, parseJsonText } from '../../core/json-view.ts'
import { UsageError } from '../../core/errors.ts'
import { collect, globals, withNode } from '../context.ts'
import { openNdjsonInput, readInput, readTextInput } from '../input.ts'
import { emit, shortCid } from '../output.ts'
import { progressBar } from '../progress.ts'
import { toJsonView } from '../../core/json-view.ts'
import type { FrameHistory, FrameStep } from '../../services/frames.ts'

/** The version a conditional write expects: `--if-match CID`, or null for `--if-none-match`. */
function expectedVersion (opts: { ifMatch?: string, ifNoneMatch?: boolean }): CID | null | undefined {
  if (opts.ifMatch != null && opts.ifNoneMatch === true) throw new UsageError('give --if-match CID (update that version) or --if-none-match (create only), not both')
  if (opts.ifNoneMatch === true) return null
  return opts.ifMatch != null ? parseCid(opts.ifMatch, '--if-match') : undefined
}

/** A positive whole number of an option, else ERR_USAGE. */
function count (name: string) {
  return (text: string): number => {
    const n = Number(text)
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${name} must be a whole number of 1 or more, not "${text}"`)
    return n
  }
}

const stepsJson = (steps: FrameStep[]): unknown[] => steps.map(s => ({ cid: s.cid, step: toJsonView(s.step) }))

/** A frame's history as `--json` prints it: the shape of GET /api/v1/frames/{id}/history. */
const historyJson = (h: FrameHistory): unknown => ({
  ...h,
  staged: h.staged == null ? null : { cid: h.staged.cid, steps: stepsJson(h.staged.steps) },
  versions: h.versions.map(v => ({ ...v, steps: stepsJson(v.steps) }))
})

/** One line per step: what it did, and the start of its content. */
function stepLines (steps: FrameStep[]): string[] {
  return steps.map(({ cid, step }) => {
    const content = typeof step.content === 'string' ? step.content : JSON.stringify(toJsonView(step.content))
    const text = content.length > 72 ? `${content.slice(0, 71)}…` : content
    return `      step ${shortCid(cid)}  ${step.session}  ${step.op}: ${text.replace(/\s+/g, ' ')}`
  })
}

function historyText (h: FrameHistory): string {
  const lines: string[] = []
  const version = (cid: CID | null): string => cid == null ? 'removed' : cid.toString()
  if (h.staged != null) {
    lines.push(`staged  ${version(h.staged.cid)}  (in the working tree of ${h.branch ?? 'the branch'}, not committed)`)
    lines.push(...stepLines(h.staged.steps))
  }
  for (const v of h.versions) {
    lines.push(`${shortCid(v.commit)}  ${new Date(v.time).toISOString()}  ${shortCid(v.author)}  ${version(v.cid)}  ${v.message.split('\n')[0] ?? ''}`)
    lines.push(...stepLines(v.steps))
  }
  if (!h.stepsComplete) lines.push('(the search for trace steps stopped at its bound: older reasoning may be missing)')
  return lines.join('\n')
}

export function registerFrame (program: Command): void {
  const frame = program.command('frame').description('write, stage and read frames (units of knowledge)')

  frame.command('put')
    .description('validate a frame (JSON, DAG-JSON links), store it and stage it on the current branch')
    .argument('<file>', 'frame JSON file, or - for standard input')
    .option('--attach <file>', 'store a file with UnixFS and record it in attachments (repeatable)', collect)
    .option('--branch <name>', 'stage on this branch instead of the current one')
    .option('--if-match <cid>', 'write only if the frame\'s current version on the branch is this CID (the one read); else ERR_CONFLICT, exit 8')
    .option('--if-none-match', 'write only if the branch has no frame with this id (create only); else ERR_CONFLICT, exit 8')
    .action(async (file: string, opts: { attach?: string[], branch?: string, ifMatch?: string, ifNoneMatch?: boolean }, command: Command) => {
      const options = globals(command)
      const ifMatch = expectedVersion(opts)
      // The limit of one frame's JSON text, with or without a daemon (frames themselves are at most 1 MiB encoded).
      const json = parseJsonText(await readTextInput(file, MAX_JSON_TEXT_BYTES), { source: file === '-' ? 'stdin' : file })
      await withNode(options, async (node) => {
        const attach = []
        for (const path of opts.attach ?? []) attach.push({ name: path, bytes: await readInput(path) })
        const record = await node.frames.put(json, { branch: opts.branch, source: file === '-' ? 'stdin' : file, attach, ifMatch })
        emit(options, { cid: record.cid, id: record.id }, () => record.cid.toString())
      })
    })

  frame.command('import')
    .description('store and stage many frames from NDJSON (one frame per line) in one batch; all or nothing')
    .argument('<file>', 'NDJSON file, or - for standard input')
    .option('--branch <name>', 'stage on this branch instead of the current one')
    .action(async (file: string, opts: { branch?: string }, command: Command) => {
      const options = globals(command)
      let frames = 0
      let onBytes = (_n: number): void => {}
      // Bytes, not lines: a big import splits them into lines on its worker threads.
      const { input, size, close } = await openNdjsonInput(file, (n) => { onBytes(n) })
      // A big file starts the import's worker threads before the node's modules load, so that
      // they are up when its first lines are read (they take about as long to start).
      const beforeLocalOpen = async (): Promise<void> => {
        const { importPool, startImportPool } = await import('../../services/import-workers.ts')
        if (size != null && size > importPool.thresholdBytes) startImportPool()
      }
      try {
        await withNode(options, async (node) => {
          const bar = progressBar(options, 'importing', size, 'bytes')
          onBytes = (n) => { bar.update(n, { extra: `${frames} frames` }) }
          try {
            const result = await node.frames.import(input, {
              branch: opts.branch,
              source: file === '-' ? 'stdin' : file,
              ...(size != null ? { expectedBytes: size } : {}),
              onProgress: (e) => { frames = e.detail.frames }
            })
            bar.stop()
            emit(options, result, () => `staged ${result.frames} frames (working tree ${result.tree})`)
          } finally {
            bar.stop()
          }
        }, { beforeLocalOpen })
      } finally {
        await close()
      }
    })

  frame.command('get')
    .description('print a frame by CID, or by id on the current branch (or --ref)')
    .argument('<cid-or-id>', 'frame CID or frame id')
    .option('--ref <ref>', 'branch, commit or tree to look the id up in (default: the working tree)')
    .action(async (what: string, opts: { ref?: string }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const record = await node.frames.get(what, { ref: opts.ref })
        const view = toJsonView(record.frame)
        emit(options, { cid: record.cid, id: record.id, frame: view, ...(record.confirmed !== undefined ? { confirmed: record.confirmed } : {}) }, () => JSON.stringify(view, null, 2))
      })
    })

  frame.command('ls')
    .description('list the frames of the working tree, a branch, a commit or a tree')
    .argument('[ref]', 'branch, commit or tree (default: the working tree of the current branch)')
    .option('--kind <kind>', 'only frames of this kind')
    .option('--tag <tag>', 'only frames with this tag')
    .option('--prefix <prefix>', 'only ids starting with this')
    .option('-q, --query <words>', 'only frames whose title and body hold all these words (case-insensitive)')
    .option('--limit <n>', 'at most n frames', (v) => Number.parseInt(v, 10))
    .option('--shadow', 'only shadow frames: changes on this shared/* branch (REF, default: the current branch) that the canonical head does not have yet (unconfirmed)')
    .action(async (ref: string | undefined, opts: { kind?: string, tag?: string, prefix?: string, limit?: number, query?: string, shadow?: boolean }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        if (opts.shadow === true) {
          const shadow = await node.consensus.shadow(ref ?? await node.refs.currentBranch())
          emit(options, shadow, () => shadow.frames.length === 0
            ? `nothing unconfirmed: ${shadow.branch} is the canonical head${shadow.head != null ? ` (${shortCid(shadow.head)})` : ''}`
            : shadow.frames.map(f => `${f.cid == null ? 'removed ' : shortCid(f.cid)}  ${f.id}  unconfirmed${f.canonical == null ? ' (new)' : ` (head has ${shortCid(f.canonical)})`}`).join('\n'))
          return
        }
        const rows: Array<{ id: string, cid: CID, kind: string, title?: string, tags?: string[] }> = []
        const { query, ...filters } = opts
        for await (const r of node.frames.list({ ref, ...filters, q: query })) {
          rows.push({ id: r.id, cid: r.cid, kind: r.frame.kind, title: r.frame.title, tags: r.frame.tags })
        }
        emit(options, rows, () => rows.map(r => `${shortCid(r.cid)}  ${r.kind.padEnd(12)} ${r.id}${r.title != null ? `  ${r.title}` : ''}`).join('\n'))
      })
    })

  frame.command('history')
    .description('every version of a frame on a branch, newest first: the commit, author, time and message, and the trace steps whose outputs name it')
    .argument('<id>', 'frame id')
    .option('--ref <ref>', 'branch (default: the current one, with its staged version) or any REF (commit CID, HEAD~N)')
    .option('--limit <n>', 'at most n versions', count('--limit'))
    .action(async (id: string, opts: { ref?: string, limit?: number }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const history = await node.frames.history(id, { ref: opts.ref, limit: opts.limit })
        emit(options, historyJson(history), () => historyText(history))
      })
    })

  frame.command('revert')
    .description('stage an earlier version of a frame (a CID its history lists) on the current branch')
    .argument('<id>', 'frame id')
    .requiredOption('--to <cid>', 'the version to stage: the CID of a frame with this id')
    .option('--branch <name>', 'stage on this branch instead of the current one')
    .option('--if-match <cid>', 'stage only if the frame\'s current version on the branch is this CID; else ERR_CONFLICT, exit 8')
    .action(async (id: string, opts: { to: string, branch?: string, ifMatch?: string }, command: Command) => {
      const options = globals(command)
      const to = parseCid(opts.to, '--to')
      const ifMatch = opts.ifMatch != null ? parseCid(opts.ifMatch, '--if-match') : undefined
      await withNode(options, async (node) => {
        const record = await node.frames.revert(id, to, { branch: opts.branch, ifMatch })
        emit(options, { cid: record.cid, id: record.id }, () => `staged ${record.id} at ${record.cid}`)
      })
    })

  frame.command('rm')
    .description('stage the removal of a frame id on the current branch')
    .argument('<id>', 'frame id')
    .option('--branch <name>', 'stage on this branch instead of the current one')
    .option('--if-match <cid>', 'remove only if the frame\'s current version on the branch is this CID; else ERR_CONFLICT, exit 8')
    .action(async (id: string, opts: { branch?: string, ifMatch?: string }, command: Command) => {
      const options = globals(command)
      const ifMatch = opts.ifMatch != null ? parseCid(opts.ifMatch, '--if-match') : undefined
      await withNode(options, async (node) => {
        const result = await node.frames.remove(id, { branch: opts.branch, ifMatch })
        emit(options, result, () => `removed ${id} (staged)`)
      })
    })
}
