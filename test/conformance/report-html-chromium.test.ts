// The HTML conformance report opened in a real browser: Debian's `chromium`, driven by
// puppeteer-core with the system browser (no bundled browser download). It checks the DOM (one row
// per scenario x check, one verdict cell per initiator in each), that every run's two charts were
// drawn by uPlot with data points and that their canvases are not blank, that no script error
// happened and nothing was requested from the network, and saves a full-page screenshot:
// <testdir>/conformance-report.png, and also NVMF_REPORT_SCREENSHOT=PATH when set (the committed
// copy test/conformance/screenshots/conformance-report.png was made that way). Skips when chromium is missing.
//
// A real report instead of the sample: NVMF_REPORT_JSON=a.json[,b.json...] renders those JSON reports
// (merged side by side when several, e.g. one per kernel) through the same code path and runs the
// same DOM and chart checks on them; NVMF_REPORT_SCREENSHOT_DIR=DIR then saves top.png (the first
// screen), verdicts.png (the whole verdict table) and run-N-SCENARIO-INITIATOR.png for each run of the
// scenarios named in NVMF_REPORT_SCREENSHOT_RUNS=id,id (default: the runs that failed or erred).
import { access, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { constants } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { mergeReports } from '../../conformance/merge-reports.js'
import { renderHtmlReport, verdictRows } from '../../conformance/report-html.js'
import type { ConformanceReport } from '../../conformance/report-types.js'
import { buildSampleReport } from './fixtures/sample-report.js'

const realJson = (process.env.NVMF_REPORT_JSON ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')

async function loadReport(): Promise<ConformanceReport> {
  if (realJson.length === 0) return buildSampleReport(1)
  const reports = await Promise.all(realJson.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as ConformanceReport))
  return reports.length === 1 && reports[0] !== undefined ? reports[0] : mergeReports(reports)
}

async function findChromium(): Promise<string | undefined> {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p)
  for (const p of candidates) {
    try {
      await access(p, constants.X_OK)
      return p
    } catch {
      // try the next one
    }
  }
  return undefined
}

const chromium = await findChromium()
const skip = chromium === undefined ? 'chromium not found (apt-get install -y --no-install-recommends chromium, or set CHROMIUM_PATH)' : false

interface ChartInfo {
  run: string
  kind: string
  series: number
  points: number
  inked: number
  plotLeft: number
  plotWidth: number
  xMax: number
}

t.test('the report renders in headless Chromium: table, charts with data, screenshot', { skip, timeout: 120_000 }, async (t) => {
  const { default: puppeteer } = await import('puppeteer-core')
  const report = await loadReport()
  const sample = realJson.length === 0
  const dir = t.testdir({})
  const file = join(dir, 'report.html')
  await writeFile(file, renderHtmlReport(report))

  const browser = await puppeteer.launch({
    executablePath: chromium ?? 'chromium',
    // headless: true is Chromium's new headless mode (--headless=new); --no-sandbox because tests run as root.
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.setViewport({ width: 1280, height: 900 })
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`))
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
  })
  page.on('request', (r) => {
    if (!/^(file|data):/.test(r.url())) problems.push(`network request: ${r.url()}`)
  })
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: 60_000 })
  await page.waitForFunction('window.nvmfReport && window.nvmfReport.ready === true', { timeout: 60_000 })

  // Verdict table: one row per (scenario, check), one cell per initiator in each row.
  const expectedRows = verdictRows(report).reduce((n, s) => n + s.checks.length, 0)
  const dom = (await page.evaluate(`(() => {
    const rows = [...document.querySelectorAll('table.verdicts tr.check')]
    return {
      rows: rows.length,
      cellsPerRow: rows.map((r) => r.querySelectorAll('td.verdict').length),
      verdicts: [...document.querySelectorAll('td.verdict')].map((c) => c.dataset.verdict),
      initiators: [...document.querySelectorAll('table.verdicts th.initiator')].map((h) => h.textContent),
      counts: Object.fromEntries([...document.querySelectorAll('[data-count]')].map((e) => [e.dataset.count, e.textContent])),
      firstFailTitle: document.querySelector('td.verdict[data-verdict="fail"]')?.getAttribute('title') ?? '',
      pwned: window.pwned === undefined ? 'no' : 'yes',
      sections: document.querySelectorAll('section.run').length,
    }
  })()`)) as {
    rows: number
    cellsPerRow: number[]
    verdicts: string[]
    initiators: string[]
    counts: Record<string, string>
    firstFailTitle: string
    pwned: string
    sections: number
  }
  t.equal(dom.rows, expectedRows, 'one row per scenario x check')
  t.ok(dom.cellsPerRow.every((n) => n === report.initiators.length), 'one verdict cell per initiator in every row')
  t.same(dom.initiators, report.initiators.map((i) => i.id), 'initiator columns')
  for (const v of ['pass', 'fail', 'skip', 'error'] as const) {
    t.equal(dom.verdicts.filter((x) => x === v).length, report.summary[v], `${report.summary[v]} ${v} cells`)
    t.equal(dom.counts[v], `${report.summary[v]} ${v}`, `summary count for ${v}`)
  }
  if (sample) t.match(dom.firstFailTitle, /first I\/O on 4422 came 2\.9 s/, 'hover text carries the check detail')
  t.equal(dom.pwned, 'no', 'hostile strings in the report did not run as script')
  t.equal(dom.sections, report.runs.length, 'one timeline section per run')

  // Charts: two per run, each with series and data points, each canvas with ink on it.
  const charts = (await page.evaluate(`(() => {
    return window.nvmfReport.charts.map((c) => {
      const cv = c.uplot.root.querySelector('canvas')
      const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data
      let inked = 0
      for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) inked++
      return { run: c.run, kind: c.kind, series: c.series, points: c.points, inked, plotLeft: c.plotLeft, plotWidth: c.plotWidth, xMax: c.uplot.scales.x.max }
    })
  })()`)) as ChartInfo[]
  const errors = (await page.evaluate('window.nvmfReport.errors')) as string[]
  t.same(errors, [], 'no chart failed to draw')
  t.equal(charts.length, report.runs.length * 2, 'an I/O chart and an ANA chart per run')
  for (const c of charts) {
    t.ok(c.series > 0 && c.points > 0, `${c.run} ${c.kind}: ${c.series} series, ${c.points} data points`)
    t.ok(c.inked > 1000, `${c.run} ${c.kind}: canvas drawn (${c.inked} inked pixels)`)
  }
  // A run's two charts share the x axis: same plot area, same time range (a marker at the same x).
  const misaligned = report.runs.map((_, i) => {
    const io = charts.find((c) => c.run === `run-${i}` && c.kind === 'io')
    const ana = charts.find((c) => c.run === `run-${i}` && c.kind === 'ana')
    return io === undefined || ana === undefined || Math.abs(io.plotLeft - ana.plotLeft) > 1 || Math.abs(io.plotWidth - ana.plotWidth) > 1 || io.xMax !== ana.xMax ? `run-${i}` : ''
  }).filter((r) => r !== '')
  t.same(misaligned, [], "each run's I/O and ANA charts have the same plot area and time range")
  const ioRun0 = charts.find((c) => c.run === 'run-0' && c.kind === 'io')
  t.equal(ioRun0?.series, (report.runs[0]?.timeline.paths.length ?? 0) + 1, 'I/O chart: one series per path plus errors')

  const shot = join(dir, 'conformance-report.png')
  // A whole catalogue on several initiators is tens of thousands of pixels tall: a real report gets
  // its first screen here unless a full-page copy was asked for.
  const full = sample || (process.env.NVMF_REPORT_SCREENSHOT ?? '') !== ''
  await page.screenshot({ path: shot, fullPage: full })
  const png = await readFile(shot)
  t.same([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'screenshot is a PNG')
  t.ok(png.length > 20_000, `screenshot has content (${png.length} bytes)`)
  const keep = process.env.NVMF_REPORT_SCREENSHOT
  if (keep !== undefined && keep !== '') {
    await copyFile(shot, keep)
    t.comment(`screenshot copied to ${keep}`)
  }
  const shotDir = process.env.NVMF_REPORT_SCREENSHOT_DIR
  if (shotDir !== undefined && shotDir !== '') {
    await mkdir(shotDir, { recursive: true })
    await page.screenshot({ path: join(shotDir, 'top.png') })
    const table = await page.$('table.verdicts')
    if (table !== null) await table.screenshot({ path: join(shotDir, 'verdicts.png') })
    const wanted = (process.env.NVMF_REPORT_SCREENSHOT_RUNS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
    for (const [i, r] of report.runs.entries()) {
      const pick = wanted.length > 0 ? wanted.includes(r.scenario) : r.verdict === 'fail' || r.verdict === 'error'
      if (!pick) continue
      const section = await page.$(`section.run#run-${i}`)
      if (section === null) continue
      const name = `run-${i}-${r.scenario}-${r.initiator}.png`.replace(/[^A-Za-z0-9._-]/g, '_')
      await section.screenshot({ path: join(shotDir, name) })
      t.comment(`saved ${join(shotDir, name)}`)
    }
    t.comment(`screenshots in ${shotDir}`)
  }
  t.same(problems, [], 'no page errors, console errors or network requests')
})
