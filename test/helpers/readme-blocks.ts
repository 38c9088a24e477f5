/**
 * The shell blocks of README.md and what the README test does with each (README, "The README
 * test"): a fenced `sh`/`bash`/`shell` block runs as written unless the line before it is a marker
 * comment `<!-- readme-test: skip — REASON -->`, `<!-- readme-test: needs CMD -->` or
 * `<!-- readme-test: servers -->`. A marker that is not one of these is an error, not a silent skip.
 */

export type ReadmeMarker = { kind: 'run' } | { kind: 'skip'; reason: string } | { kind: 'needs'; command: string } | { kind: 'servers' }

export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number
  marker: ReadmeMarker
  /** Commands with `\` continuations joined; blank and comment-only lines left out. */
  commands: string[]
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell'])

export function parseMarker(text: string, line: number): ReadmeMarker {
  const m = /^<!--\s*readme-test:\s*(.*?)\s*-->$/.exec(text.trim())
  if (m === null) throw new Error(`README line ${line}: not a readme-test marker: ${text}`)
  const body = m[1]!
  const skip = /^skip\s*(?:[—–:-]\s*)?(.*)$/.exec(body)
  if (skip !== null) {
    if (skip[1]!.trim() === '') throw new Error(`README line ${line}: "readme-test: skip" needs a reason ("skip — needs QEMU")`)
    return { kind: 'skip', reason: skip[1]!.trim() }
  }
  const needs = /^needs\s+([\w.+-]+)$/.exec(body)
  if (needs !== null) return { kind: 'needs', command: needs[1]! }
  if (body === 'servers') return { kind: 'servers' }
  throw new Error(`README line ${line}: unknown readme-test marker "${body}" (skip — REASON, needs CMD, servers)`)
}

/** Join `\`-continued lines, drop blank and comment-only lines. */
export function blockCommands(lines: readonly string[]): string[] {
  const out: string[] = []
  let cur = ''
  for (const raw of lines) {
    const l = raw.replace(/\s+$/, '')
    if (cur === '' && (l.trim() === '' || l.trim().startsWith('#'))) continue
    if (l.endsWith('\\')) {
      cur += `${l.slice(0, -1).trimEnd()} `
      continue
    }
    out.push((cur + (cur === '' ? l : l.trimStart())).trim())
    cur = ''
  }
  if (cur !== '') out.push(cur.trim())
  return out
}

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n')
  const blocks: ReadmeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!)
    if (open === null) continue
    const lang = open[1]!
    let end = i + 1
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++
    if (SHELL_LANGS.has(lang)) {
      let prev = i - 1
      while (prev >= 0 && lines[prev]!.trim() === '') prev--
      const marker = prev >= 0 && lines[prev]!.includes('readme-test:') ? parseMarker(lines[prev]!, prev + 1) : ({ kind: 'run' } as const)
      blocks.push({ line: i + 1, marker, commands: blockCommands(lines.slice(i + 1, end)) })
    }
    i = end
  }
  return blocks
}

/** A command that runs in the background: it ends in a single `&` (a trailing comment allowed). */
export function isBackground(command: string): boolean {
  return /(^|[^&])&\s*(#.*)?$/.test(command)
}

/** The control socket a backgrounded target creates (`--control PATH`), which the test waits for. */
export function controlPath(command: string): string | undefined {
  return /--control[= ](\S+)/.exec(command)?.[1]
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The bash script that runs the blocks in order in one shell (`set -e`; job control on, so that each
 * background job is a process group the script can stop whole).
 */
export function readmeScript(blocks: readonly ReadmeBlock[], opts: { serverTimeoutS: number }): string {
  const out: string[] = [
    'set -e -m',
    `__server() {`,
    `  local log; log=$(mktemp)`,
    `  bash -c "$1" >"$log" 2>&1 & local pid=$!`,
    `  local i=0`,
    `  until grep -q 'listening on' "$log"; do`,
    `    if ! kill -0 "$pid" 2>/dev/null; then echo "readme-test: exited before it was listening:" >&2; cat "$log" >&2; return 1; fi`,
    `    i=$((i + 1)); if [ "$i" -gt ${opts.serverTimeoutS * 2} ]; then echo "readme-test: not listening after ${opts.serverTimeoutS} s:" >&2; cat "$log" >&2; kill -KILL -- "-$pid"; return 1; fi`,
    `    sleep 0.5`,
    `  done`,
    `  kill -INT -- "-$pid"`,
    `  local rc=0; wait "$pid" || rc=$?`,
    `  case "$1" in nvmf-fault*) [ "$rc" = 0 ] || { echo "readme-test: exit $rc after SIGINT (expected 0):" >&2; cat "$log" >&2; return 1; } ;; esac`,
    `  rm -f "$log"`,
    `}`,
    `__wait_socket() {`,
    `  local i=0`,
    `  until [ -S "$1" ]; do`,
    `    if ! kill -0 "$2" 2>/dev/null; then echo "readme-test: the background command exited before $1 appeared" >&2; return 1; fi`,
    `    i=$((i + 1)); if [ "$i" -gt ${opts.serverTimeoutS * 2} ]; then echo "readme-test: $1 did not appear in ${opts.serverTimeoutS} s" >&2; return 1; fi`,
    `    sleep 0.5`,
    `  done`,
    `}`,
    // Stop what is left: SIGTERM, then SIGKILL after 10 s, so that the run always ends.
    `__cleanup() { local rc=$? p i; for p in $(jobs -p); do kill -TERM -- "-$p" 2>/dev/null || true; done`,
    `  for i in $(seq 20); do [ -z "$(jobs -pr)" ] && break; sleep 0.5; done`,
    `  for p in $(jobs -pr); do kill -KILL -- "-$p" 2>/dev/null || true; done; wait || true; exit "$rc"; }`,
    `trap __cleanup EXIT`,
  ]
  for (const b of blocks) {
    out.push(`echo ${q(`### README line ${b.line} (${b.marker.kind})`)} >&2`)
    if (b.marker.kind === 'skip') continue
    const body: string[] = []
    for (const c of b.commands) {
      body.push(`printf '+ %s\\n' ${q(c)} >&2`)
      if (b.marker.kind === 'servers') {
        body.push(`__server ${q(c)}`)
        continue
      }
      const sock = isBackground(c) ? controlPath(c) : undefined
      // A socket left by an earlier, killed run must not pass for the new target's.
      if (sock !== undefined) body.push(`[ -S ${q(sock)} ] && rm -f ${q(sock)}`)
      body.push(c)
      if (sock !== undefined) body.push(`__wait_socket ${q(sock)} $!`)
    }
    if (b.marker.kind === 'needs') {
      out.push(`if command -v ${q(b.marker.command)} >/dev/null 2>&1; then`, ...body, `else echo ${q(`readme-test: ${b.marker.command} is not installed: block skipped`)} >&2; fi`)
    } else {
      out.push(...body)
    }
  }
  return `${out.join('\n')}\n`
}
