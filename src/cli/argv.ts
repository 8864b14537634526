/**
 * What a command line asks for, read before any of the CLI's modules load (commander included):
 * which command's modules to load (`commandWord`), and whether it imports a file
 * (`importFileOf`), whose import worker can then start first thing. Node built-ins only.
 */

/** The global options and the options of `frame import` that take a value (the next word). */
const WITH_VALUE = new Set(['--repo', '--branch'])

/**
 * The command a command line runs: the first word that is not a global option (or its value),
 * or the word after `help`. Undefined for `framehub`, `framehub --help` and the like.
 */
export function commandWord (argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') return argv[i + 1]
    if (a === '--repo') { i++; continue }
    if (a.startsWith('-')) continue
    if (a === 'help') return argv[i + 1] ?? a
    return a
  }
  return undefined
}

/**
 * The FILE of `framehub [options] frame import [options] FILE`; undefined for any other command
 * line, for standard input (`-`) and for help.
 */
export function importFileOf (argv: readonly string[]): string | undefined {
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') { words.push(...argv.slice(i + 1)); break }
    if (a === '-h' || a === '--help') return undefined
    if (WITH_VALUE.has(a)) { i++; continue }
    if (a.startsWith('-') && a !== '-') continue
    words.push(a)
  }
  return words.length === 3 && words[0] === 'frame' && words[1] === 'import' && words[2] !== '-' ? words[2] : undefined
}
