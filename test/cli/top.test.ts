import { afterEach, describe, expect, it } from 'vitest';
import { runTop } from '../../src/cli/top.js';
import { AdminServer } from '../../src/collector/admin-server.js';
import type { Collector } from '../../src/collector/collector.js';
import { encodeMetricsRequest, Temporality } from '../../src/index.js';
import { monotonicSums } from '../helpers/batches.js';
import { otlpHttpUrl, startCollector } from '../helpers/collectors.js';

let collector: Collector | undefined;
let admin: AdminServer | undefined;

afterEach(async () => {
  await admin?.stop();
  await collector?.shutdown(200);
});

async function start(): Promise<void> {
  collector = await startCollector(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
processors:
  batch: { timeout: 20ms }
exporters:
  debug: {}
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [debug] }
`);
  admin = new AdminServer({ address: '127.0.0.1:0', version: '1.2.3' }, () => collector);
  await admin.start();
}

/** Sends `points` points, one request, every 100 ms until `stop` aborts. */
async function feed(points: number, stop: AbortSignal): Promise<void> {
  const body = encodeMetricsRequest(
    monotonicSums(
      Temporality.Cumulative,
      Array.from({ length: points }, (_, k) => ({
        series: `s${k}`,
        start: 1n,
        time: 2n,
        value: 1,
      })),
    ),
  );
  while (!stop.aborted) {
    await fetch(otlpHttpUrl(collector!), {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('sluice top', () => {
  it('prints a line a second with the rates when the output is not a terminal', async () => {
    await start();
    const stop = new AbortController();
    const load = feed(50, stop.signal);
    const lines: string[] = [];
    const code = await runTop(
      { admin: admin!.url(''), tty: false, iterations: 3, intervalMs: 700 },
      { out: (line) => lines.push(line), err: (line) => lines.push(`ERR ${line}`) },
    );
    stop.abort();
    await load;
    expect(code).toBe(0);
    expect(lines).toHaveLength(3);
    // The first line has no rate yet (one snapshot); the next ones do: ~500 points/s.
    expect(lines[0]).toMatch(/in –\/s/);
    const rate = Number(/ in ([\d.]+)\/s/.exec(lines[2])?.[1]);
    expect(rate).toBeGreaterThan(100);
    expect(lines[2]).toMatch(/rss [\d.]+ MB/);
  });

  it('redraws a table on a terminal: receivers, processors, exporters, top metrics', async () => {
    await start();
    const stop = new AbortController();
    const load = feed(20, stop.signal);
    const screens: string[] = [];
    await runTop(
      { admin: admin!.url(''), tty: true, iterations: 2, intervalMs: 500 },
      { out: (text) => screens.push(text), err: () => {} },
    );
    stop.abort();
    await load;
    const screen = screens[1];
    expect(screen.startsWith('\x1b[H\x1b[2J')).toBe(true);
    expect(screen).toContain('sluice 1.2.3');
    expect(screen).toMatch(/RECEIVER\s+TRANSPORT\s+REQ\/S\s+IN\/S/);
    expect(screen).toMatch(/\notlp\s+http\s+[\d.]+\s+[\d.]+k?\s/);
    expect(screen).toMatch(/\nbatch\s+metrics\s+[\d.]+/);
    expect(screen).toMatch(/\ndebug\s+[\d.]+/);
    expect(screen).toMatch(/METRIC \(top by active series[^)]*\)\s+SERIES\n\S+\s+20\n/);
  });

  it('says what is wrong when the admin server cannot be read or wants credentials', async () => {
    const errors: string[] = [];
    const io = { out: () => {}, err: (line: string) => errors.push(line) };
    expect(await runTop({ admin: 'http://127.0.0.1:9', tty: false, iterations: 1 }, io)).toBe(1);
    expect(errors[0]).toMatch(/^sluice top: cannot read http:\/\/127\.0\.0\.1:9\/api\/status/);
    await start();
    // An admin server path that does not exist stands in for a refusal: the status is named.
    expect(
      await runTop({ admin: `${admin!.url('')}/nothing-here`, tty: false, iterations: 1 }, io),
    ).toBe(1);
    expect(errors[1]).toMatch(/answered 404/);
  });
});
