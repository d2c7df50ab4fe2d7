import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { gaugeExport } from '../integration/fixtures/gauge-export.mjs';

const bin = new URL('../../dist/cli/main.js', import.meta.url).pathname;

/** A free loopback port (a collector restarted after `kill -9` must come back on it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** `sluice run` of the built CLI in its own process, which a test may `kill -9`. */
export class CollectorProcess {
  readonly configPath: string;
  readonly adminUrl: string;
  #child: ChildProcess | undefined;
  #output = '';
  #exited: Promise<number | null> | undefined;

  constructor(dir: string, name: string, adminPort: number) {
    this.configPath = join(dir, `${name}.yaml`);
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
  }

  get output(): string {
    return this.#output;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(yaml: string): Promise<void> {
    await writeFile(this.configPath, yaml);
    const child = spawn(process.execPath, [bin, 'run', '--config', this.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#output = '';
    child.stdout!.on('data', (chunk) => {
      this.#output += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      this.#output += chunk;
    });
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await waitUntil(
      `the collector to be ready (output so far: ${this.#output.slice(-2000)})`,
      async () => {
        if (child.exitCode !== null) throw new Error(`collector exited: ${this.#output}`);
        return fetch(`${this.adminUrl}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
      100,
    );
  }

  /** `kill -9`: no shutdown, no flush, nothing. */
  async kill9(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<number | null> {
    this.#child?.kill('SIGTERM');
    return this.#exited ?? null;
  }

  get alive(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && !this.#child.killed;
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.adminUrl}/metrics`)).text();
  }

  /** The sum of every sample of `name` whose labels include `labels` (0 when none). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    let sum = 0;
    for (const line of (await this.metrics()).split('\n')) {
      const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const text = match[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => text.includes(`${k}="${v}"`)))
        sum += Number(match[3]);
    }
    return sum;
  }

  /** Resident memory of the process now, from /proc (bytes). */
  async rss(): Promise<number> {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  }
}

/** What a load run sent and what the collector acknowledged. */
export interface LoadResult {
  exports: number;
  /** Points in exports the collector answered with success. */
  acknowledged: Set<string>;
  /** Points in exports that failed (the official exporter gave up after its retries). */
  failed: number;
}

/**
 * Steady load from the official `OTLPMetricExporter` (protobuf over HTTP): one export of
 * `pointsPerExport` gauge points every `intervalMs`, each point its own series (`id`
 * attribute `run-export-point`), until `stop()`. Every acknowledged point is remembered.
 */
export class OfficialLoad {
  readonly result: LoadResult = { exports: 0, acknowledged: new Set(), failed: 0 };
  readonly #exporter: OTLPMetricExporter;
  readonly #run: string;
  #stopped = false;
  #loop: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(url: string, run: string) {
    this.#exporter = new OTLPMetricExporter({ url, timeoutMillis: 5_000 });
    this.#run = run;
  }

  start(pointsPerExport: number, intervalMs: number): void {
    this.#loop = (async () => {
      for (let k = 0; !this.#stopped; k++) {
        const sent = this.#exportOnce(k, pointsPerExport);
        this.#inFlight.add(sent);
        void sent.finally(() => this.#inFlight.delete(sent));
        await sleep(intervalMs);
      }
    })();
  }

  /** Stops sending and waits for every export to have its answer. */
  async stop(): Promise<LoadResult> {
    this.#stopped = true;
    await this.#loop;
    await Promise.all([...this.#inFlight]);
    return this.result;
  }

  async shutdown(): Promise<void> {
    await this.#exporter.shutdown();
  }

  #exportOnce(k: number, points: number): Promise<void> {
    const ids = Array.from({ length: points }, (_, j) => `${this.#run}-${k}-${j}`);
    const data = gaugeExport(this.#run, ids, k);
    this.result.exports++;
    return new Promise((resolve) => {
      this.#exporter.export(data, (result) => {
        if (result.code === 0) for (const id of ids) this.result.acknowledged.add(id);
        else this.result.failed += points;
        resolve();
      });
    });
  }
}

/**
 * Every sample VictoriaMetrics holds for `fault_points{run}`, through its export API (raw
 * samples, so a duplicate shows as a second sample): ids found, and duplicates.
 */
export async function victoriaSamples(
  baseUrl: string,
  run: string,
): Promise<{ ids: Set<string>; samples: number }> {
  const match = encodeURIComponent(`fault_points{run="${run}"}`);
  const response = await fetch(`${baseUrl}/api/v1/export?match[]=${match}`);
  const text = await response.text();
  const ids = new Set<string>();
  let samples = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const series = JSON.parse(line) as { metric: Record<string, string>; values: number[] };
    ids.add(series.metric.id);
    samples += series.values.length;
  }
  return { ids, samples };
}

/** Row of docs/reliability.md: printed by every fault test as one JSON line. */
export interface FaultReport {
  scenario: string;
  queue: 'memory' | 'persistent';
  backend: string;
  sent: number;
  acknowledged: number;
  found: number;
  lost: number;
  duplicates: number | 'n/a';
  notes?: string;
}

export function report(row: FaultReport): void {
  console.log(`FAULT-REPORT ${JSON.stringify(row)}`);
}

/** Ids acknowledged but not found. */
export function missing(acknowledged: Set<string>, found: Set<string>): string[] {
  return [...acknowledged].filter((id) => !found.has(id));
}
