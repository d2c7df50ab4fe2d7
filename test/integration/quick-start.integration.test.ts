import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../src/cli/loadgen.js';
import { DEFAULT_CONFIG } from '../../src/collector/config/load-config.js';
import { CollectorProcess, freePort } from '../helpers/faults.js';
import { type RunningService, startService, waitForSeries } from '../helpers/services.js';

// docs/quick-start.md, done: the built-in default pipeline (on free ports instead of the
// default ones, which a test must not take), loadgen, and a real Prometheus started with
// the page's prometheus.yml; every query on the page must return data.

const page = readFileSync(new URL('../../docs/quick-start.md', import.meta.url), 'utf8');

/** The code block after `<!-- quick-start:NAME -->` on the page. */
function block(name: string): string {
  const match = new RegExp(`<!-- quick-start:${name} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(
    page,
  );
  if (!match) throw new Error(`docs/quick-start.md has no ${name} block`);
  return match[1];
}

describe('the quick start (docs/quick-start.md)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-quick-start-'));
  let prometheus: RunningService;
  let collector: CollectorProcess;
  let scrapeTarget: string;
  const stopLoad = new AbortController();

  beforeAll(async () => {
    const ports = {
      4317: await freePort(),
      4318: await freePort(),
      9464: await freePort(),
      8888: await freePort(),
    };
    let config = DEFAULT_CONFIG;
    for (const [fixed, free] of Object.entries(ports))
      config = config.replaceAll(`127.0.0.1:${fixed}`, `127.0.0.1:${free}`);
    collector = new CollectorProcess(dir, 'default', ports[8888]);
    await collector.start(config);
    scrapeTarget = `127.0.0.1:${ports[9464]}`;
    await runLoad(
      {
        endpoint: `http://127.0.0.1:${ports[4318]}/v1/metrics`,
        protocol: 'http',
        series: 1000,
        batchPoints: 500,
        rate: 2000,
        durationMs: 2_000,
        concurrency: 1,
      },
      { out: () => {}, err: () => {} },
    );
    prometheus = await startService('prometheus');
    const yaml = block('prometheus.yml')
      .replace('127.0.0.1:9464', scrapeTarget)
      .replace('scrape_interval: 15s', 'scrape_interval: 1s');
    expect(yaml).toContain(scrapeTarget);
    writeFileSync(join(prometheus.stateDir, 'prometheus.yml'), yaml);
    expect((await fetch(`${prometheus.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    // Keep the load going while Prometheus scrapes, so rates have two samples to work with.
    void runLoad(
      {
        endpoint: `http://127.0.0.1:${ports[4318]}/v1/metrics`,
        protocol: 'http',
        series: 1000,
        batchPoints: 500,
        rate: 2000,
        durationMs: 60_000,
        concurrency: 1,
        signal: stopLoad.signal,
      },
      { out: () => {}, err: () => {} },
    ).catch(() => {});
  }, 120_000);

  afterAll(async () => {
    stopLoad.abort();
    await collector?.stop();
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every query on the page with data from loadgen', async () => {
    const queries = block('queries').trim().split('\n');
    expect(queries.length).toBe(3);
    for (const query of queries) {
      const series = await waitForSeries(prometheus.url, query, 1, 30_000);
      expect(
        series.every((s) => Number.isFinite(Number(s.value[1]))),
        query,
      ).toBe(true);
    }
    const [gauge] = await waitForSeries(prometheus.url, 'loadgen_queue_depth{job="loadgen"}');
    expect(gauge.metric.instance).toMatch(/^loadgen-\d+$/);
  }, 60_000);
});
