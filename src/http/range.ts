import rangeParser from 'range-parser'

/**
 * Reads a `Range` header for a body of `size` bytes: one byte range (inclusive `end`), null (serve
 * the whole body), or 'unsatisfiable' (416 with `Content-Range: bytes *\/size`).
 *
 * range-parser reads the header; two of its answers are read as RFC 9110 14.1.1-14.1.2 do: a
 * range whose last byte comes before its first is invalid, so the header is ignored (range-parser:
 * unsatisfiable), and a suffix longer than the body asks for all of it (range-parser:
 * unsatisfiable). Several ranges, other units and malformed headers are ignored, which RFC 9110
 * 14.2 allows: the whole body is sent.
 */
export function parseRange (header: string | undefined, size: number): { start: number, end: number } | null | 'unsatisfiable' {
  if (header == null) return null
  const spec = header.trim()
  if (spec.includes(',')) return null
  const ranges = rangeParser(size, spec)
  if (ranges === -2 || spec.slice(0, spec.indexOf('=')) !== 'bytes') return null
  if (ranges !== -1) {
    const range = ranges[0]
    return range == null ? 'unsatisfiable' : { start: range.start, end: range.end }
  }
  // range-parser found one well-formed range it calls unsatisfiable.
  const [first = '', last = ''] = spec.slice(spec.indexOf('=') + 1).split('-').map(p => p.trim())
  if (first === '') return Number(last) > 0 && size > 0 ? { start: 0, end: size - 1 } : 'unsatisfiable'
  if (last !== '' && Number(last) < Number(first)) return null
  return 'unsatisfiable'
}
