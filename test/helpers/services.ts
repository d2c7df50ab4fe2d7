import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const scripts = new URL('../../scripts/services/', import.meta.url).pathname;

export type ServiceName =
  | 'prometheus'
  | 'victoria-metrics'
  | 'vmagent'
  | 'postgresql'
  | 'influxdb'
  | 'nats-server';

export interface RunningService {
  /** `127.0.0.1:port` */
  address: string;
  url: string;
  /** The server's config, data and log live here (see scripts/services/lib.sh). */
  stateDir: string;
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops the server, keeping its data and port (an outage); `resume` ends it. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/**
 * Starts a real server from Debian's packages with `scripts/services/<name>.sh` (installing
 * it first when missing) on a free loopback port, with `env` for the script's settings.
 * Call `stop` in `afterAll`.
 */
export async function startService(
  name: ServiceName,
  env: Record<string, string> = {},
): Promise<RunningService> {
  const script = `${scripts}${name}.sh`;
  const { stdout } = await run('bash', [script, 'start'], {
    timeout: 600_000,
    env: { ...process.env, ...env },
  });
  const [address, stateDir] = stdout.trim().split('\n').at(-1)!.split(' ');
  return {
    address,
    url: `http://${address}`,
    stateDir,
    stop: async () => {
      await run('bash', [script, 'stop', stateDir], { timeout: 30_000 });
    },
    restart: async () => {
      await run('bash', [script, 'restart', stateDir], { timeout: 60_000 });
    },
    pause: async () => {
      await run('bash', [script, 'pause', stateDir], { timeout: 30_000 });
    },
    resume: async () => {
      await run('bash', [script, 'resume', stateDir], { timeout: 60_000 });
    },
  };
}

/** A PromQL instant query against a Prometheus-compatible API: the result vector. */
export async function promQuery(
  baseUrl: string,
  query: string,
  get: (url: string) => Promise<{ json(): Promise<unknown> }> = fetch,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await get(`${baseUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${query} failed: ${body.error}`);
  return body.data.result;
}

/** Polls `query` until it returns at least `count` series (or throws after `timeoutMs`). */
export async function waitForSeries(
  baseUrl: string,
  query: string,
  count = 1,
  timeoutMs = 20_000,
  get?: (url: string) => Promise<{ json(): Promise<unknown> }>,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const result = await promQuery(baseUrl, query, get);
    if (result.length >= count) return result;
    if (Date.now() > until) {
      throw new Error(`${query}: ${result.length} series after ${timeoutMs} ms, wanted ${count}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
