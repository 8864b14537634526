// Writes schemas/otlp/otlp.json: the protobufjs descriptor of the OTLP trace protocol files and
// google.rpc.Status under schemas/otlp, which src/core/otlp loads without parsing `.proto` text.
// `--check` exits 1 if the descriptor drifted from the `.proto` files (a test runs that).
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

const dir = fileURLToPath(new URL('../schemas/otlp/', import.meta.url))
const target = `${dir}otlp.json`
const files = ['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'google/rpc/status.proto']

export function generate (): string {
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => target.startsWith('google/protobuf/') ? target : `${dir}${target}`
  root.loadSync(files, { keepCase: false })
  return JSON.stringify(root.toJSON(), null, 1) + '\n'
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = generate()
  if (process.argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '')
    if (current !== text) {
      console.error('schemas/otlp/otlp.json differs from the .proto files: run "node scripts/gen-otlp-proto.ts"')
      process.exit(1)
    }
  } else {
    await writeFile(target, text)
    console.log(`wrote ${target}`)
  }
}
