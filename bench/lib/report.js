import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Runs `cases` (each `{ name, unit, work, ours, baseline, baselineName, check }`) and prints
 * one JSON line per case — `{name, unit, value, baseline, ratio}`, value and baseline in
 * `unit` (work per second, higher is better) — then a table.
 *
 * Nothing can flatter one side: sluice and the baseline run alternately, sample by sample
 * (the order flips every round), each sample after a full GC and a pause for V8's concurrent
 * sweeping, and the medians are compared.
 * Before timing, `check(result, side)` must say each side's output holds `work` items (the
 * points a request carries, the points a batch decoded): a case that lost points fails.
 */
export async function runComparisons(title, cases, { time = 3000, minRounds = 5 } = {}) {
  const results = [];
  for (const c of cases) {
    for (const [side, run] of [
      ['sluice', c.ours],
      ['baseline', c.baseline],
    ]) {
      if (!run || !c.check) continue;
      const items = await c.check(await run(), side);
      if (items !== c.work)
        throw new Error(
          `${c.name}: ${side} produced ${items} of ${c.work} ${c.unit.split('/')[0]}`,
        );
    }
    const samples = await alternate([c.ours, c.baseline].filter(Boolean), { time, minRounds });
    const [ours, baseline] = samples.map(median);
    const value = round((c.work * 1000) / ours);
    const base = baseline === undefined ? null : round((c.work * 1000) / baseline);
    const line = {
      name: c.name,
      unit: c.unit,
      value,
      baseline: base,
      ratio: base === null ? null : round(value / base, 2),
      rounds: samples[0].length,
      ...(c.baselineName ? { baselineName: c.baselineName } : {}),
    };
    results.push(line);
    console.log(JSON.stringify(line));
  }
  console.log(`\n${title}\n${table(results)}`);
  return results;
}

/**
 * Milliseconds per call of each function, sampled alternately (two warm-up rounds first),
 * a full GC before every sample, for at least `minRounds` rounds and `time` ms.
 */
export async function alternate(functions, { time, minRounds }) {
  const samples = functions.map(() => []);
  for (let warm = 0; warm < 2; warm++) for (const f of functions) await f();
  const until = performance.now() + time;
  for (let round = 0; round < minRounds || performance.now() < until; round++) {
    const order = functions.map((_, k) => k);
    if (round % 2 === 1) order.reverse();
    for (const k of order) {
      // A full collection, then a moment for V8's concurrent sweeping to finish, so neither
      // side pays for the other's garbage.
      globalThis.gc?.();
      await new Promise((resolve) => setTimeout(resolve, 20));
      const started = performance.now();
      await functions[k]();
      samples[k].push(performance.now() - started);
    }
  }
  return samples;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
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
/** Rows `{ name, value, unit }` as a two-column markdown table (benchmarks without a peer row). */
export function valueTable(rows) {
  return [
    '| benchmark | value |',
    '|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.value} ${r.unit} |`),
  ].join('\n');
}

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
