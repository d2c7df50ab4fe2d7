// The persistent queue's store: sluice's segment log (PersistentQueue) against LMDB (the
// `lmdb` package, an embedded B+tree store with a prebuilt binary) doing the same queue work
// on real encoded requests — append, read back in order, delete once delivered — while the
// reader keeps up (streaming) and after a backlog built up (an outage). This is the
// measurement behind the choice of store in docs/architecture.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import pino from 'pino';
import { encodeMetricsRequest, MetricBatch, PersistentQueue } from '../../dist/index.js';
import { runComparisons, table, writeDocsSection } from '../lib/report.js';

const REQUESTS = Number(process.env.QUEUE_STORE_REQUESTS ?? 1500);
const POINTS = 1000;
const logger = pino({ level: 'silent' });

/** Real requests: 1000 counter points each, 20 attributes' worth of series labels. */
function requests(count) {
  const out = [];
  for (let r = 0; r < count; r++) {
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'bench' } }));
    const metric = batch.addMetric(scope, {
      name: 'http.server.requests',
      type: 2, // Sum
      temporality: 2, // Cumulative
      monotonic: true,
    });
    for (let k = 0; k < POINTS; k++) {
      const series = batch.series(metric, { route: `/api/${k % 97}`, host: `h${k % 13}`, r, k });
      batch.addNumberPoint(series, { startTime: 1n, time: 2n, value: k });
    }
    out.push(encodeMetricsRequest(batch));
  }
  return out;
}

const data = requests(64);
const payload = (k) => data[k % data.length];
const megabytes =
  Array.from({ length: REQUESTS }, (_, k) => payload(k).length).reduce((a, b) => a + b, 0) /
  2 ** 20;

function tempDir() {
  return mkdtempSync(join(tmpdir(), 'sluice-store-bench-'));
}

/** Pumps every request through a PersistentQueue: `chunk` offers, then as many takes. */
async function segmentLog(fsync, streaming) {
  const directory = tempDir();
  const queue = new PersistentQueue({
    directory,
    fsync,
    fsyncIntervalMs: 200,
    maxSizeBytes: 4 * 1024 ** 3,
    whenFull: 'block',
    maxRequestPoints: POINTS,
    maxRequestBytes: 4 * 1024 * 1024,
    decode: false,
    logger,
  });
  await queue.open();
  let read = 0;
  const take = async () => {
    const work = await queue.take(POINTS, 1, 0);
    read += work.batch.bytes.length === payload(read).length ? 1 : 0;
    queue.complete(work);
  };
  const chunk = streaming ? 8 : REQUESTS;
  for (let k = 0; k < REQUESTS; k += chunk) {
    const end = Math.min(REQUESTS, k + chunk);
    await Promise.all(
      Array.from({ length: end - k }, (_, j) =>
        queue.offer({ bytes: payload(k + j), points: POINTS, seriesKeys: undefined }),
      ),
    );
    for (let j = k; j < end; j++) await take();
  }
  await queue.dispose();
  rmSync(directory, { recursive: true, force: true });
  return read;
}

/** The same through LMDB: put under increasing keys, get in key order, remove. */
async function lmdb(noSync, streaming) {
  const path = tempDir();
  const db = openLmdb({
    path,
    encoding: 'binary',
    keyEncoding: 'uint32',
    noSync,
    compression: false,
  });
  let read = 0;
  const chunk = streaming ? 8 : REQUESTS;
  for (let k = 0; k < REQUESTS; k += chunk) {
    const end = Math.min(REQUESTS, k + chunk);
    await Promise.all(Array.from({ length: end - k }, (_, j) => db.put(k + j + 1, payload(k + j))));
    for (let j = k; j < end; j++) {
      const value = db.getBinary(j + 1);
      read += value.length === payload(j).length ? 1 : 0;
      await db.remove(j + 1);
    }
  }
  await db.close();
  rmSync(path, { recursive: true, force: true });
  return read;
}

const check = (result) => result;
const cases = [];
for (const streaming of [true, false]) {
  const how = streaming ? 'streaming (reader keeps up)' : 'backlog (write all, then drain)';
  for (const [ours, theirs, baselineName] of [
    ['never', true, 'lmdb noSync'],
    ['interval', true, 'lmdb noSync'],
    ['always', false, 'lmdb (synced commits)'],
  ]) {
    cases.push({
      name: `${how}, ${REQUESTS} requests of ${POINTS} points, fsync ${ours}`,
      unit: 'requests/s',
      work: REQUESTS,
      ours: () => segmentLog(ours, streaming),
      baseline: () => lmdb(theirs, streaming),
      baselineName,
      check,
    });
  }
}
const results = await runComparisons('persistent queue store: segment log vs LMDB', cases, {
  time: 2000,
  minRounds: 3,
});
const perRequest = megabytes / REQUESTS;
for (const r of results) {
  console.log(
    JSON.stringify({
      info: 'MB/s',
      name: r.name,
      sluice: Math.round(r.value * perRequest),
      baseline: r.baseline === null ? null : Math.round(r.baseline * perRequest),
    }),
  );
}

if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'queue-store',
    [
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}: ${REQUESTS} real OTLP requests of ${POINTS} points (${Math.round(perRequest * 1024)} KB each) through \`PersistentQueue\` and through LMDB (the \`lmdb\` package, keys in order, \`getBinary\`, \`remove\` once read), alternating sample by sample, medians; each run checks every request came back whole. *Streaming*: 8 written, then 8 read and deleted, and so on; *backlog*: all written, then all drained (reads from disk past the queue's 32 MiB in memory). LMDB has no interval sync: its \`noSync\` (no sync at all) stands against \`never\` and \`interval\`, its default (synced commits) against \`always\`.`,
      '',
      table(results),
    ].join('\n'),
  );
}
