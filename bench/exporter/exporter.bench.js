// SluiceMetricExporter against the official OTLPMetricExporter (protobuf) exporting the same
// SDK data to a sink in another process: wall time, the longest event-loop stall, CPU time
// per point, bytes on the wire and peak RSS, each run in a fresh process.
import { fork } from 'node:child_process';
import { table, writeDocsSection } from '../lib/report.js';

const SIZES = (process.env.EXPORTER_SERIES ?? '100000,500000').split(',').map(Number);
// Garbage collection of the SDK's heap lands in a different place each run: the median of
// a few runs per exporter is what an app sees, not one lucky or unlucky draw.
const RUNS = Number(process.env.EXPORTER_RUNS ?? 3);
const here = (file) => new URL(file, import.meta.url).pathname;

const sink = fork(here('sink.js'), { stdio: 'inherit' });
const port = await new Promise((resolve) => sink.once('message', (m) => resolve(m.port)));

async function runOnce(which, series) {
  await fetch(`http://127.0.0.1:${port}/reset`);
  const child = fork(here('run-one.js'), [which, String(series), String(port)], {
    execArgv: ['--expose-gc', '--max-old-space-size=16384'],
    stdio: 'inherit',
  });
  const result = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once(
      'exit',
      (code) => code !== 0 && reject(new Error(`${which} ${series} exited ${code}`)),
    );
  });
  const stats = await (await fetch(`http://127.0.0.1:${port}/stats`)).json();
  // The sink counts what arrived: a run that lost points, or whose export failed, measured
  // nothing worth comparing.
  if (!result.ok || stats.points !== result.points || stats.malformed > 0) {
    throw new Error(
      `${which} ${series}: export ${result.ok ? 'succeeded' : 'failed'}, the sink received ${stats.points} of ${result.points} points (${stats.malformed} malformed requests)`,
    );
  }
  return {
    ...result,
    exportAddedRssBytes: result.exportPeakRssBytes - result.rssBeforeBytes,
    wireBytes: stats.bytes,
    requests: stats.requests,
  };
}

const rows = [];
const results = [];

/**
 * RUNS fresh processes of each exporter, alternating official and sluice (the order flips
 * every round), so a slow stretch of the machine does not land on one side; medians of each.
 */
async function runBoth(series) {
  const runs = { official: [], sluice: [] };
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? ['official', 'sluice'] : ['sluice', 'official'];
    for (const which of order) runs[which].push(await runOnce(which, series));
  }
  return { official: summarize(runs.official), ours: summarize(runs.sluice) };
}

function summarize(runs) {
  const median = (key) =>
    runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const result = { ...runs[0], runs: runs.length };
  for (const key of Object.keys(runs[0])) {
    if (typeof runs[0][key] === 'number' && key !== 'series' && key !== 'points') {
      result[key] = median(key);
    }
  }
  result.worstStallMs = Math.max(...runs.map((r) => r.maxStallMs));
  return result;
}

for (const series of SIZES) {
  const { official, ours } = await runBoth(series);
  for (const r of [official, ours]) console.log(JSON.stringify({ info: 'run', ...r }));
  const line = (name, unit, value, baseline, digits = 1) => {
    const entry = {
      name: `${name}, ${ours.points} points`,
      unit,
      value: round(value, digits),
      baseline: round(baseline, digits),
      // A ratio means nothing against zero (an export that added no memory).
      ratio: value > 0 && baseline > 0 ? round(baseline / value, 2) : null,
    };
    console.log(JSON.stringify(entry));
    results.push(entry);
  };
  line('max event-loop stall', 'ms', ours.maxStallMs, official.maxStallMs);
  line('wall time to delivered', 'ms', ours.wallMs, official.wallMs);
  line(
    'CPU time per point',
    'µs',
    (ours.cpuMs * 1000) / ours.points,
    (official.cpuMs * 1000) / official.points,
    2,
  );
  line('worst stall of all runs', 'ms', ours.worstStallMs, official.worstStallMs);
  line(
    'peak RSS of a collect + export cycle',
    'MB',
    ours.cyclePeakRssBytes / 2 ** 20,
    official.cyclePeakRssBytes / 2 ** 20,
  );
  line(
    'peak RSS during the export',
    'MB',
    ours.exportPeakRssBytes / 2 ** 20,
    official.exportPeakRssBytes / 2 ** 20,
  );
  line(
    'RSS added by the export (peak during − before)',
    'MB',
    ours.exportAddedRssBytes / 2 ** 20,
    official.exportAddedRssBytes / 2 ** 20,
  );
  line('bytes on the wire', 'MB', ours.wireBytes / 2 ** 20, official.wireBytes / 2 ** 20);
  rows.push(official, ours);
}
sink.kill();

const markdown = table(
  results.map((r) => ({
    ...r,
    ratio: r.ratio,
    baselineName: 'official OTLPMetricExporter (proto) 0.223',
  })),
);
console.log(
  `\nSluiceMetricExporter vs official OTLPMetricExporter (ratio = official / sluice, higher is better for sluice)\n${markdown}`,
);
if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'exporter',
    [
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Counter + 10-bucket histogram per series, 5 attributes; each exporter first exports two warm-up collections, then the SDK records and collects again with the exporter in that state, and the exporter exports it to a sink in another process; median of ${RUNS} fresh processes per exporter, run alternately; every run checked at the sink, which counts the points it received. Ratio = official / sluice (above 1: sluice is better).`,
      '',
      markdown,
    ].join('\n'),
  );
}

function round(value, digits = 1) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
