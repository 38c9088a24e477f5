/**
 * The browser side of the HTML report (conformance/report-html.ts): its stylesheet and the script
 * that draws each scenario run's timeline with uPlot. Both are inlined into the page; the script
 * reads the runs' timelines from the page's JSON data block, never from the network.
 *
 * Per run it draws two charts on one time axis (cursor synchronised):
 *  - I/O rate: completed ops/s per path (one line each) and errors/s (dashed, red);
 *  - ANA state: one lane per path x ANA group, a stepped band whose height is the state
 *    (optimized > non-optimized > change > inaccessible / persistent loss).
 * Injected faults, failovers, errors, AENs, connects/disconnects and remaps are vertical markers on
 * both charts; the same events are listed, with their text, under the charts.
 *
 * `window.nvmfReport` exposes what was drawn ({ ready, charts: [{ run, kind, series, points }],
 * errors }) so a headless browser test can check that every chart got data points.
 */

export const REPORT_CSS = `
:root { --pass: #1a7f37; --fail: #cf222e; --skip: #8c959f; --error: #bc4c00; --none: #d0d7de; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 24px 48px; color: #1f2328; }
h1 { font-size: 22px; margin: 18px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 6px; }
.meta { color: #59636e; margin: 0 0 12px; }
.counts { display: flex; gap: 10px; margin: 10px 0; }
.count { padding: 6px 14px; border-radius: 6px; color: #fff; font-weight: 600; }
.count.pass, .v-pass { background: var(--pass); } .count.fail, .v-fail { background: var(--fail); }
.count.skip, .v-skip { background: var(--skip); } .count.error, .v-error { background: var(--error); }
.v-none { background: var(--none); color: #59636e; }
table { border-collapse: collapse; }
table.verdicts th, table.verdicts td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
table.verdicts tr.scenario th { background: #f6f8fa; }
td.verdict { color: #fff; font-weight: 600; min-width: 88px; }
td.verdict details > summary { cursor: pointer; }
td.verdict .why { font-weight: 400; max-width: 420px; white-space: pre-wrap; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
section.run { border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 14px; margin: 14px 0; }
.chart { margin: 6px 0; }
table.events td, table.events th { padding: 1px 8px; border-bottom: 1px solid #eaeef2; text-align: left; vertical-align: top; }
table.events td.detail, pre.log { white-space: pre-wrap; overflow-wrap: anywhere; }
pre.log { background: #f6f8fa; padding: 8px; border-radius: 6px; font-size: 12px; }
.legend-marks span { margin-right: 14px; font-size: 12px; }
.legend-marks i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
`

/** Marker colours per TimelineEventKind; the page legend is rendered from the same table. */
export const EVENT_COLORS: Readonly<Record<string, string>> = {
  fault: '#8250df',
  failover: '#0969da',
  error: '#cf222e',
  aen: '#bf8700',
  connect: '#1a7f37',
  disconnect: '#9a6700',
  remap: '#d1242f',
  note: '#6e7781',
}

export const REPORT_SCRIPT = String.raw`
(function () {
  'use strict';
  var state = { ready: false, charts: [], errors: [] };
  window.nvmfReport = state;
  var PATH_COLORS = ['#0969da', '#1a7f37', '#8250df', '#bf3989', '#bc4c00', '#1b7c83', '#6639ba', '#9a6700'];
  // Width of the y axis of both charts (the ANA chart's lane labels need it).
  var ANA_AXIS_SIZE = 180;
  var ANA_LEVEL = { optimized: 0.85, 'non-optimized': 0.6, change: 0.4, inaccessible: 0.12, 'persistent-loss': 0.05 };
  var data = JSON.parse(document.getElementById('nvmf-report-data').textContent);
  var EVENT_COLORS = data.eventColors;

  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }

  function markerPlugin(events) {
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx;
          var top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          ctx.lineWidth = 1.5 * devicePixelRatio;
          events.forEach(function (e) {
            var x = Math.round(u.valToPos(e.tMs / 1000, 'x', true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            var c = EVENT_COLORS[e.kind] || '#6e7781';
            ctx.strokeStyle = c;
            ctx.setLineDash(e.kind === 'fault' ? [] : [4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
            ctx.fillStyle = c;
            var s = 5 * devicePixelRatio;
            ctx.beginPath(); ctx.moveTo(x - s, top); ctx.lineTo(x + s, top); ctx.lineTo(x, top + s * 1.6); ctx.closePath(); ctx.fill();
          });
          ctx.restore();
        }
      }
    };
  }

  function countPoints(d) {
    var n = 0;
    for (var i = 1; i < d.length; i++) for (var j = 0; j < d[i].length; j++) if (d[i][j] != null) n++;
    return n;
  }

  function ioChart(run, el, width, syncKey) {
    var tl = run.timeline;
    var bucketS = Math.max(1, tl.bucketMs) / 1000;
    var times = {};
    if (tl.endMs / Math.max(1, tl.bucketMs) <= 20000) for (var t = 0; t < tl.endMs; t += Math.max(1, tl.bucketMs)) times[t] = true;
    tl.io.forEach(function (b) { times[b.tMs] = true; });
    var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    xs.forEach(function (x, i) { index[x] = i; });
    var perPath = tl.paths.map(function () { return xs.map(function () { return 0; }); });
    var errors = xs.map(function () { return 0; });
    var pathIndex = {};
    tl.paths.forEach(function (p, i) { pathIndex[p.id] = i; });
    tl.io.forEach(function (b) {
      var i = index[b.tMs], p = pathIndex[b.path];
      if (p !== undefined) perPath[p][i] += b.ops / bucketS;
      errors[i] += b.errors / bucketS;
    });
    var series = [{ label: 't (s)' }];
    tl.paths.forEach(function (p, i) {
      series.push({ label: p.label, stroke: PATH_COLORS[i % PATH_COLORS.length], width: 1.5, points: { show: false } });
    });
    series.push({ label: 'errors/s', stroke: '#cf222e', width: 1.5, dash: [6, 4], points: { show: false } });
    var d = [xs.map(function (x) { return x / 1000; })].concat(perPath, [errors]);
    var u = new uPlot({
      title: 'I/O rate per path (ops/s)', width: width, height: 240, series: series,
      scales: { x: { time: false, range: [0, tl.endMs / 1000] } },
      // Tick area + label = ANA_AXIS_SIZE: the plot areas of a run's two charts line up, so a
      // marker in one is at the same x in the other.
      axes: [{ label: 'seconds since the run started (target up; grey marks: scenario start, stop)' }, { label: 'ops/s', labelSize: 30, size: ANA_AXIS_SIZE - 30 }],
      cursor: { sync: { key: syncKey } },
      plugins: [markerPlugin(tl.events)]
    }, d, el);
    state.charts.push({ run: run.id, kind: 'io', series: series.length - 1, points: countPoints(d), uplot: u, plotLeft: u.bbox.left / devicePixelRatio, plotWidth: u.bbox.width / devicePixelRatio });
  }

  function anaChart(run, el, width, syncKey) {
    var tl = run.timeline;
    var lanes = [], laneOf = {};
    tl.ana.forEach(function (a) {
      var key = a.path + '/' + a.anagrpid;
      if (laneOf[key] === undefined) { laneOf[key] = -1; lanes.push({ key: key, path: a.path, anagrpid: a.anagrpid }); }
    });
    var order = {};
    tl.paths.forEach(function (p, i) { order[p.id] = i; });
    lanes.sort(function (a, b) { return ((order[a.path] || 0) - (order[b.path] || 0)) || (a.anagrpid - b.anagrpid); });
    lanes.forEach(function (l, i) { laneOf[l.key] = i; });
    var times = { 0: true };
    times[tl.endMs] = true;
    tl.ana.forEach(function (a) { times[a.tMs] = true; });
    var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
    var ana = tl.ana.slice().sort(function (a, b) { return a.tMs - b.tMs; });
    var cols = lanes.map(function (l, li) {
      var cur = null, k = 0;
      var laneAna = ana.filter(function (a) { return a.path + '/' + a.anagrpid === l.key; });
      return xs.map(function (x) {
        while (k < laneAna.length && laneAna[k].tMs <= x) { cur = laneAna[k].state; k++; }
        return cur === null ? null : li + (ANA_LEVEL[cur] !== undefined ? ANA_LEVEL[cur] : 0.3);
      });
    });
    var labels = {};
    tl.paths.forEach(function (p) { labels[p.id] = p.label; });
    var series = [{ label: 't (s)' }];
    lanes.forEach(function (l, i) {
      var c = PATH_COLORS[(order[l.path] || 0) % PATH_COLORS.length];
      series.push({
        label: (labels[l.path] || l.path) + ' grp ' + l.anagrpid, stroke: c, width: 1.5, fill: alpha(c, 0.25), fillTo: i,
        paths: uPlot.paths.stepped({ align: 1 }), points: { show: false },
        value: (function (base) { return function (u, v) { return v == null ? '-' : stateName(v - base); }; })(i)
      });
    });
    var d = [xs.map(function (x) { return x / 1000; })].concat(cols);
    var u = new uPlot({
      title: 'ANA state per path (band height: optimized > non-optimized > change > inaccessible)',
      width: width, height: Math.max(120, 34 * lanes.length + 70), series: series,
      scales: { x: { time: false, range: [0, tl.endMs / 1000] }, y: { range: [0, Math.max(1, lanes.length)] } },
      axes: [{ label: 'seconds since the run started (target up; grey marks: scenario start, stop)' }, {
        size: ANA_AXIS_SIZE, splits: function () { return lanes.map(function (l, i) { return i + 0.5; }); },
        values: function () { return lanes.map(function (l) { return (labels[l.path] || l.path) + ' g' + l.anagrpid; }); }
      }],
      legend: { show: true }, cursor: { sync: { key: syncKey } },
      plugins: [markerPlugin(tl.events)]
    }, d, el);
    state.charts.push({ run: run.id, kind: 'ana', series: series.length - 1, points: countPoints(d), uplot: u, plotLeft: u.bbox.left / devicePixelRatio, plotWidth: u.bbox.width / devicePixelRatio });
  }

  function stateName(level) {
    var best = '-', diff = 1;
    Object.keys(ANA_LEVEL).forEach(function (k) { var dd = Math.abs(ANA_LEVEL[k] - level); if (dd < diff) { diff = dd; best = k; } });
    return best;
  }

  data.runs.forEach(function (run) {
    var holder = document.getElementById(run.id);
    if (!holder) { state.errors.push('no chart holder for ' + run.id); return; }
    var width = Math.max(600, Math.min(1400, holder.clientWidth || 1000));
    var ioEl = holder.querySelector('.chart-io'), anaEl = holder.querySelector('.chart-ana');
    try { ioChart(run, ioEl, width, run.id); } catch (e) { state.errors.push(run.id + ' io: ' + e); }
    try { anaChart(run, anaEl, width, run.id); } catch (e) { state.errors.push(run.id + ' ana: ' + e); }
  });
  state.ready = true;
})();
`
