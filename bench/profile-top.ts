/**
 * `node dist/bench/profile-top.js FILE.cpuprofile [N]`: the N functions with the most self time in a
 * V8 CPU profile (what `npm run bench -- --profile DIR` writes), with their share of the samples.
 * Enough to read a profile on a machine without a browser; Chrome DevTools shows the same data.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
}

export function topSelfTime(p: Profile, n: number): { name: string; share: number }[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]))
  const counts = new Map<string, number>()
  for (const id of p.samples) {
    const f = byId.get(id)!.callFrame
    const file = f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '')
    const key = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  const total = p.samples.length
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, c]) => ({ name, share: c / total }))
}

const file = process.argv[2]
if (file === undefined) {
  process.stderr.write('usage: profile-top FILE.cpuprofile [N]\n')
  process.exitCode = 2
} else {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  for (const r of topSelfTime(p, Number(process.argv[3] ?? 30))) console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`)
}
