/**
 * `starts` and everything they depend on (through `dependencies`), each once, every item after
 * the items it depends on: an iterative post-order walk (session chains are thousands deep).
 * The graph must be acyclic, as every content-addressed DAG is.
 */
export function dependenciesFirst<T> (starts: Iterable<T>, dependencies: (item: T) => readonly T[]): T[] {
  const out: T[] = []
  const placed = new Set<T>()
  for (const start of starts) {
    if (placed.has(start)) continue
    const stack = [{ item: start, deps: dependencies(start), next: 0 }]
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { item: T, deps: readonly T[], next: number }
      if (top.next < top.deps.length) {
        const dep = top.deps[top.next++] as T
        if (!placed.has(dep)) stack.push({ item: dep, deps: dependencies(dep), next: 0 })
        continue
      }
      stack.pop()
      if (!placed.has(top.item)) { placed.add(top.item); out.push(top.item) }
    }
  }
  return out
}
