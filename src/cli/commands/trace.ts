import type { Command } from 'commander'
import { parseCid } from '../../core/cid.ts'
import { parseJsonText } from '../../core/json-view.ts'
import { toJsonView } from '../../core/json-view.ts'
import { collect, globals, withNode } from '../context.ts'
import { readInput, readTextInput } from '../input.ts'
import { emit, shortCid } from '../output.ts'

export function registerTrace (program: Command): void {
  const trace = program.command('trace').description('reasoning sessions: signed steps that form a DAG')

  trace.command('append')
    .description('add a signed step ({"op","content","inputs","outputs"}) to a session')
    .argument('<file>', 'step JSON file, or - for standard input')
    .requiredOption('-s, --session <name>', 'session (one goal)')
    .option('-p, --parent <cid>', 'parent step (repeatable; several merge routes; default: the session head)', collect)
    .action(async (file: string, opts: { session: string, parent?: string[] }, command: Command) => {
      const options = globals(command)
      const json = parseJsonText(await readTextInput(file), { source: file === '-' ? 'stdin' : file })
      const parents = opts.parent?.map(p => parseCid(p, 'parent'))
      await withNode(options, async (node) => {
        const r = await node.traces.append(opts.session, json, { parents })
        emit(options, r, () => r.cid.toString())
      })
    })

  trace.command('import')
    .description('import OpenTelemetry spans (an OTLP JSON trace export) as signed steps; spans imported before are skipped')
    .argument('<file>', 'OTLP JSON file: an ExportTraceServiceRequest, or JSON Lines of them as OTLP file exporters write; - for standard input')
    .action(async (file: string, _opts, command: Command) => {
      const options = globals(command)
      // The OTLP/HTTP body limit: the daemon refuses more.
      const bytes = await readInput(file, 64 * 1024 * 1024)
      // Loaded here: the OTLP decoder (protobufjs) is not part of the other trace commands' start-up.
      const { otlpJsonLines } = await import('../../core/otlp.ts')
      const lines = otlpJsonLines(new TextDecoder().decode(bytes), file === '-' ? 'stdin' : file)
      const body = lines != null ? JSON.stringify(lines) : bytes
      await withNode(options, async (node) => {
        const r = await node.spans.import({ encoding: 'json', body })
        emit(options, r, () => [
          `${r.spans} span(s): ${r.written} step(s) written, ${r.existing} imported before${r.waiting > 0 ? `, ${r.waiting} waiting for their parent span` : ''}`,
          ...r.sessions.map(s => `${s.session}  ${s.heads.length} head(s)`)
        ].join('\n'))
      })
    })

  trace.command('show')
    .description('print the steps of a session in causal order')
    .argument('<session>', 'session name')
    .action(async (session: string, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const rows = await Array.fromAsync(node.traces.show(session), ({ cid, step }) =>
          ({ ...(toJsonView(step) as Record<string, unknown>), cid, parents: step.parents, op: step.op, content: step.content }))
        emit(options, rows, () => rows.map(r => `${shortCid(r.cid)} ${String(r.op).padEnd(12)} ${JSON.stringify(r.content).slice(0, 100)}${r.parents.length > 1 ? `  (merges ${r.parents.length} routes)` : ''}`).join('\n'))
      })
    })

  trace.command('heads')
    .description('print the current heads (open routes) of a session')
    .argument('<session>', 'session name')
    .action(async (session: string, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const heads = await node.traces.heads(session)
        emit(options, { session, heads }, () => heads.map(String).join('\n'))
      })
    })

  trace.command('routes')
    .description('print the distinct routes from the session roots to its heads')
    .argument('<session>', 'session name')
    .option('--limit <n>', 'at most n routes (default 1000)', (v) => Number.parseInt(v, 10))
    .action(async (session: string, opts: { limit?: number }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const routes = await node.traces.routes(session, { limit: opts.limit })
        emit(options, { session, routes }, () => routes.map((r, i) => `route ${i + 1}: ${r.map(c => shortCid(c)).join(' → ')}`).join('\n'))
      })
    })

  trace.command('ls')
    .description('list sessions and their heads')
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const rows = await Array.fromAsync(node.traces.sessions())
        emit(options, rows, () => rows.map(s => `${s.session}  ${s.heads.length} head(s)`).join('\n'))
      })
    })
}
