import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';

/**
 * Runs `cases` (each `{ name, unit, ours, baseline, work }`) with tinybench and prints one
 * JSON line per case — `{name, unit, value, baseline, ratio}`, value and baseline in `unit`
 * (work per second, higher is better) — then a table.
 */
export async function runComparisons(title, cases, { time = 1500, warmupTime = 400 } = {}) {
  const results = [];
  for (const c of cases) {
    const bench = new Bench({ time, warmupTime, iterations: 5, warmupIterations: 2 });
    bench.add('ours', c.ours);
    if (c.baseline) bench.add('baseline', c.baseline);
    await bench.run();
    const [ours, baseline] = bench.tasks.map((t) => t.result.latency.p50);
    const value = round((c.work * 1000) / ours);
    const base = baseline === undefined ? null : round((c.work * 1000) / baseline);
    const line = {
      name: c.name,
      unit: c.unit,
      value,
      baseline: base,
      ratio: base === null ? null : round(value / base, 2),
      ...(c.baselineName ? { baselineName: c.baselineName } : {}),
    };
    results.push(line);
    console.log(JSON.stringify(line));
    globalThis.gc?.();
  }
  console.log(`\n${title}\n${table(results)}`);
  return results;
}

export function table(results) {
  const rows = [
    ['benchmark', 'sluice', 'baseline', 'ratio', 'baseline is'],
    ...results.map((r) => [
      r.name,
      `${format(r.value)} ${r.unit}`,
      r.baseline === null ? '—' : `${format(r.baseline)} ${r.unit}`,
      r.ratio === null ? '—' : `${r.ratio}×`,
      r.baselineName ?? '',
    ]),
  ];
  const widths = rows[0].map((_, k) => Math.max(...rows.map((row) => row[k].length)));
  const line = (row) => `| ${row.map((cell, k) => cell.padEnd(widths[k])).join(' | ')} |`;
  return [
    line(rows[0]),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

/** Replaces the section between `<!-- bench:NAME -->` markers in docs/benchmarks.md. */
export function writeDocsSection(name, markdown) {
  const path = new URL('../../docs/benchmarks.md', import.meta.url);
  mkdirSync(new URL('../../docs/', import.meta.url), { recursive: true });
  let doc = '';
  try {
    doc = readFileSync(path, 'utf8');
  } catch {
    doc = '# Benchmarks\n';
  }
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const section = `${start}\n${markdown}\n${end}`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  doc =
    from >= 0 && to > from
      ? doc.slice(0, from) + section + doc.slice(to + end.length)
      : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, doc);
}

function round(value, digits = 0) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function format(value) {
  return value >= 1e6
    ? `${(value / 1e6).toFixed(2)}M`
    : value >= 1e3
      ? `${(value / 1e3).toFixed(1)}k`
      : String(value);
}
