import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../src/cli/loadgen.js';
import { CollectorProcess, freePort, waitUntil } from '../helpers/faults.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

// The dashboard in a real browser (Debian's chromium, driven by playwright-core): a `sluice
// run` process relays `sluice loadgen` (with a cardinality bomb) to a sink; the page must
// load without console errors, show the numbers moving, name the bombed attribute, and show
// the breaker opening and the queue filling once the sink stops. A screenshot of each state
// is written to test/artifacts/.

const artifacts = new URL('../artifacts/', import.meta.url).pathname;
const script = new URL('../../scripts/services/chromium.sh', import.meta.url).pathname;

describe('the dashboard (GET / on the admin server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-dashboard-'));
  const sink = new OtlpSink();
  let collector: CollectorProcess;
  let browser: Browser;
  let endpoint: string;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    const executablePath = execFileSync(script, ['install'], { encoding: 'utf8' }).trim();
    await sink.start();
    const [adminPort, otlpPort] = [await freePort(), await freePort()];
    endpoint = `http://127.0.0.1:${otlpPort}/v1/metrics`;
    collector = new CollectorProcess(dir, 'dashboard', adminPort);
    await collector.start(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${otlpPort} }
processors:
  batch: { timeout: 200ms }
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    timeout: 1s
    retry_on_failure: { initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 60s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
    sending_queue: { queue_size: 2000000 }
service:
  telemetry:
    metrics: { address: 127.0.0.1:${adminPort} }
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [otlphttp] }
`);
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await collector?.stop();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the pipeline live, finds the cardinality bomb, and shows the breaker opening', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
    await page.goto(`${collector.adminUrl}/`);
    await waitFor(
      page,
      'the page to connect',
      async () => (await text(page, '#connection')) === 'live',
    );

    const stopLoad = new AbortController();
    const load = runLoad(
      {
        endpoint,
        protocol: 'http',
        series: 200,
        cardinalityBomb: 2000,
        batchPoints: 500,
        rate: 4000,
        durationMs: 90_000,
        concurrency: 2,
        signal: stopLoad.signal,
      },
      { out: () => {}, err: () => {} },
    );

    // Numbers move: points in and sent per second, and the same on the exporter's row.
    await waitFor(page, 'points/s in and sent above zero', async () => {
      return (await number(page, '#total-in')) > 0 && (await number(page, '#total-sent')) > 0;
    });
    const accepted = async () => Number(await text(page, '[data-receiver="otlp/http"] td.total'));
    const firstAccepted = await accepted();
    await waitFor(
      page,
      'the accepted total to grow',
      async () => (await accepted()) > firstAccepted,
    );
    expect(await text(page, '[data-exporter="otlphttp"] .breaker')).toBe('closed');
    expect(await page.locator('#graph svg [data-pipeline="metrics"] .node').count()).toBe(3);
    await page.screenshot({ path: join(artifacts, 'dashboard-live.png'), fullPage: true });
    // A page opened now starts with the seconds the collector kept (`/api/history`), before
    // its own second snapshot arrives.
    const late = await browser.newPage();
    late.on('pageerror', (error) => problems.push(`late page: ${error.message}`));
    await late.goto(`${collector.adminUrl}/`);
    await waitFor(
      late,
      'the late page to connect',
      async () => (await text(late, '#connection')) === 'live',
    );
    expect(await late.evaluate('throughput.time.length')).toBeGreaterThanOrEqual(2);
    await late.close();

    // The cardinality explorer: the bombed metric on top, user.id its first attribute.
    await waitFor(page, 'loadgen.requests to top the cardinality table', async () => {
      return (
        (await page
          .locator('#cardinality-metrics tbody tr')
          .first()
          .getAttribute('data-metric')) === 'loadgen.requests'
      );
    });
    await waitFor(page, 'user.id to top the attributes', async () => {
      return (
        (await page.locator('#attributes tbody tr').first().getAttribute('data-attribute')) ===
        'user.id'
      );
    });
    expect(await text(page, '#suggestion')).toContain('drop_attributes: [user.id]');
    await page.screenshot({ path: join(artifacts, 'dashboard-cardinality.png'), fullPage: true });

    // The backend goes away: the breaker opens and the queue fills while the load goes on.
    await sink.stop();
    await waitFor(
      page,
      'the breaker to open',
      async () => (await text(page, '[data-exporter="otlphttp"] .breaker')) === 'open',
    );
    const fill = async () =>
      Number(await page.locator('[data-exporter="otlphttp"] .queue').getAttribute('data-fill'));
    const before = await fill();
    await waitFor(page, 'the queue to fill', async () => (await fill()) > before && before >= 0);
    expect(await page.locator('#errors li').count()).toBeGreaterThan(0);
    expect(await page.locator('#graph .node.exporter.open').count()).toBe(1);
    await page.screenshot({ path: join(artifacts, 'dashboard-breaker-open.png'), fullPage: true });

    expect(problems).toEqual([]);
    stopLoad.abort();
    await load;
  }, 120_000);
});

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').trim();
}

/** A rate as the page writes it (`950`, `4.9k`, `1.20M`). */
async function number(page: Page, selector: string): Promise<number> {
  const shown = await text(page, selector);
  const match = /^([\d.]+)([kM]?)$/.exec(shown);
  if (!match) return 0;
  return Number(match[1]) * (match[2] === 'k' ? 1e3 : match[2] === 'M' ? 1e6 : 1);
}

async function waitFor(page: Page, what: string, check: () => Promise<boolean>): Promise<void> {
  await waitUntil(what, check, 30_000, 200).catch(async (err) => {
    await page.screenshot({ path: join(artifacts, 'dashboard-failed.png'), fullPage: true });
    throw err;
  });
}
