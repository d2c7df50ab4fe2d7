import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import {
  ConfigError,
  DEFAULT_CONFIG,
  parseConfig,
} from '../../src/collector/config/load-config.js';
import { PersistentQueue } from '../../src/delivery/persistent/persistent-queue.js';
import { parseDuration } from '../../src/model/duration.js';
import { counterBatch } from '../helpers/batches.js';

function configError(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('the config was valid');
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const valid = `
receivers:
  otlp:
    protocols:
      http:
        endpoint: \${env:HTTP_ENDPOINT:-127.0.0.1:4318}
      grpc:
exporters:
  otlphttp/backend:
    endpoint: http://127.0.0.1:9999
    compression: zstd
    sending_queue:
      num_consumers: \${env:CONSUMERS}
      queue_size: 5000
    retry_on_failure:
      initial_interval: 250ms
      max_elapsed_time: 2m
  debug:
processors:
  batch:
    timeout: 2s
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp/backend, debug]
`;

describe('collector config', () => {
  it('parses the Collector shape with env substitution, typed names and defaults', () => {
    const config = parseConfig(valid, 'test.yaml', { CONSUMERS: '8' });
    const exporter = config.exporters.get('otlphttp/backend')!;
    expect(exporter.type).toBe('otlphttp');
    expect(exporter.config).toMatchObject({
      endpoint: 'http://127.0.0.1:9999',
      compression: 'zstd',
      sending_queue: { num_consumers: 8, queue_size: 5000, enabled: true },
      retry_on_failure: { initial_interval: 250, max_elapsed_time: 120_000, multiplier: 1.5 },
      timeout: 5000,
    });
    expect(config.receivers.get('otlp')!.config).toMatchObject({
      protocols: {
        http: { endpoint: '127.0.0.1:4318', max_request_body_size: 20 * 1024 * 1024 },
        grpc: { endpoint: '127.0.0.1:4317' },
      },
    });
    expect(config.processors.get('batch')!.config).toMatchObject({
      timeout: 2000,
      send_batch_size: 8192,
    });
    expect(config.pipelines).toEqual([
      {
        name: 'metrics',
        receivers: ['otlp'],
        processors: ['batch'],
        exporters: ['otlphttp/backend', 'debug'],
      },
    ]);
    expect(config.adminAddress).toBe('127.0.0.1:8888');
    expect(config.decodeThreads).toBe('auto');
  });

  it('service.decode_threads takes auto or a thread count', () => {
    const withThreads = (value: string) =>
      valid.replace('service:\n', `service:\n  decode_threads: ${value}\n`);
    expect(parseConfig(withThreads('3'), 'test.yaml', { CONSUMERS: '8' }).decodeThreads).toBe(3);
    const found = problems(withThreads('lots'), { CONSUMERS: '8' });
    expect(found).toEqual([expect.stringMatching(/^service\.decode_threads: .*"lots"/)]);
  });

  it('names the key path, the value and what is allowed for every problem', () => {
    const found = problems(
      `
receivers:
  otlp:
    protocols:
      http:
        endpoint: nowhere
        max_body: 1
  kafka: {}
exporters:
  otlphttp:
    endpoint: ftp://x
    compression: brotli
    retry_on_failure:
      initial_interval: soon
processors: {}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp, missing]
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
`,
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringContaining('receivers.otlp.protocols.http.endpoint: expected host:port'),
        'receivers.otlp.protocols.http: unknown key "max_body"',
        expect.stringMatching(
          /^receivers\.kafka: unknown receiver type "kafka" \(known: otlp, prometheusremotewrite, nats\)$/,
        ),
        expect.stringContaining('exporters.otlphttp.endpoint: expected an http:// or https:// URL'),
        expect.stringMatching(
          /^exporters\.otlphttp\.compression: expected one of "gzip"\|"zstd"\|"none"/,
        ),
        'exporters.otlphttp.retry_on_failure.initial_interval: expected a duration such as 200ms, 5s or 1m30s, got "soon"',
        expect.stringContaining(
          'service.pipelines.metrics.processors: "batch" is not defined under processors',
        ),
        expect.stringContaining(
          'service.pipelines.metrics.exporters: "missing" is not defined under exporters',
        ),
        'service.pipelines.traces: sluice runs metrics pipelines only (got "traces")',
      ]),
    );
  });

  it('refuses otlp exporter headers that cannot be gRPC metadata, without showing a credential', () => {
    const found = problems(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
exporters:
  otlp:
    endpoint: 127.0.0.1:4317
    headers: { Connection: close, "Authorization Bearer": s3cr3t-value, X-Tenant: t1 }
service:
  pipelines: { metrics: { receivers: [otlp], exporters: [otlp] } }
`);
    expect(found).toHaveLength(2);
    expect(found[0]).toContain('exporters.otlp.headers.Connection: gRPC metadata names');
    expect(found[1]).toContain('exporters.otlp.headers.Authorization Bearer');
    expect(found.join('\n')).not.toContain('s3cr3t-value');
  });

  it('takes compression_params.level in the range of the compression chosen, and names it otherwise', () => {
    const exporters = (otlphttp: string, otlp: string) => `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
exporters:
  otlphttp: { endpoint: http://127.0.0.1:4318, ${otlphttp} }
  otlp: { endpoint: 127.0.0.1:4317, ${otlp} }
service:
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp, otlp] } }
`;
    expect(
      problems(
        exporters(
          'compression: zstd, compression_params: { level: 19 }',
          'compression_params: { level: 9 }',
        ),
      ),
    ).toEqual([]);
    const found = problems(
      exporters(
        'compression_params: { level: 12 }',
        'compression: none, compression_params: { level: 1 }',
      ),
    );
    expect(found).toHaveLength(2);
    expect(found[0]).toContain(
      'exporters.otlphttp.compression_params.level: expected a gzip level from 1 (fastest) to 9 (smallest), got 12',
    );
    expect(found[1]).toContain('exporters.otlp.compression_params.level: expected no level');
  });

  it('refuses a reference to an unset environment variable without a default', () => {
    expect(problems(valid)).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the message shows config syntax
      'exporters.otlphttp/backend.sending_queue.num_consumers: environment variable CONSUMERS is not set (write ${env:CONSUMERS:-default} for a default)',
    ]);
  });

  it('reports YAML syntax errors with the line, and a caret under the spot', () => {
    expect(problems('receivers: [unclosed')[0]).toMatch(/^YAML: /);
    const error = configError('receivers:\n  otlp: [unclosed\nexporters: {}\n');
    expect(error.spots[0]).toEqual({ line: 3, column: 1, text: 'exporters: {}' });
    expect(error.message).toContain('at line 3, column 1:\n      3 | exporters: {}\n        | ^');
    expect(error.problems[0]).not.toMatch(/at line/);
  });

  it('points at each problem in the file and suggests the key or component that was meant', () => {
    const error = configError(`receivers:
  otlp:
    protocols:
      http:
        endpiont: 127.0.0.1:4318
processors:
  bacth: {}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:4318
    retry_on_failur: { enabled: false }
    compression: brotli
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [otlphtp]
`);
    expect(error.problems).toEqual([
      'receivers.otlp.protocols.http: unknown key "endpiont" (did you mean "endpoint"?)',
      expect.stringMatching(
        /^processors\.bacth: unknown processor type "bacth" \(did you mean "batch"\?\)/,
      ),
      expect.stringMatching(/^exporters\.otlphttp\.compression: expected one of/),
      'exporters.otlphttp: unknown key "retry_on_failur" (did you mean "retry_on_failure"?)',
      expect.stringMatching(
        /^service\.pipelines\.metrics\.exporters: "otlphtp" is not defined under exporters \(did you mean "otlphttp"\?\)/,
      ),
    ]);
    expect(error.spots.map((s) => s && [s.line, s.column])).toEqual([
      [5, 9],
      [7, 3],
      [12, 18],
      [11, 5],
      [17, 19],
    ]);
    expect(error.message).toContain(
      'did you mean "endpoint"?)\n    at line 5, column 9:\n      5 |         endpiont: 127.0.0.1:4318\n        |         ^',
    );
    // Nothing close enough: no guess.
    expect(
      problems(valid.replace('  otlp:', '  otlp:\n    zzzzzz: 1'), { CONSUMERS: '8' }),
    ).toEqual(['receivers.otlp: unknown key "zzzzzz"']);
  });

  it('parses durations the Go way', () => {
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('5 s')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });

  it('the built-in default config is valid', () => {
    expect(parseConfig(DEFAULT_CONFIG).pipelines).toHaveLength(1);
  });

  it('sluice validate exits 0 for a valid file and 1 listing problems otherwise', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    try {
      const good = join(dir, 'good.yaml');
      const bad = join(dir, 'bad.yaml');
      await writeFile(good, DEFAULT_CONFIG);
      await writeFile(
        bad,
        'receivers: {}\nexporters: {}\nservice:\n  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [debug]\n',
      );
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
      expect(await runCli(['validate', '--config', good], io)).toBe(0);
      expect(out.join('\n')).toContain('valid (1 pipeline: metrics)');
      expect(await runCli(['validate', '--config', bad], io)).toBe(1);
      expect(err.join('\n')).toContain(
        'service.pipelines.metrics.receivers: "otlp" is not defined under receivers',
      );
      expect(await runCli(['validate', '--config', join(dir, 'nope.yaml')], io)).toBe(1);
      expect(err.join('\n')).toContain('cannot read the file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('file_storage and sending_queue.storage', () => {
    const withStorage = (extensions: string, enabled: string, storage: string) => `
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:4318
    sending_queue:
      storage: ${storage}
extensions:
${extensions}
service:
  extensions: [${enabled}]
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [otlphttp]
`;

    it('accepts named instances and checks every reference', () => {
      const ok = parseConfig(
        withStorage(
          '  file_storage/q:\n    directory: /tmp/q\n    fsync: always',
          'file_storage/q',
          'file_storage/q',
        ),
      );
      expect([...ok.extensions.keys()]).toEqual(['file_storage/q']);
      expect(() =>
        parseConfig(withStorage('  file_storage:\n    directory: /tmp/q', '', 'file_storage')),
      ).toThrow(
        'exporters.otlphttp.sending_queue.storage: "file_storage" is not an extension enabled in service.extensions (enabled: none)',
      );
      expect(() =>
        parseConfig(
          withStorage('  file_storage:\n    directory: /tmp/q', 'file_storag', 'file_storage'),
        ),
      ).toThrow(
        'service.extensions: "file_storag" is not defined under extensions (defined: file_storage)',
      );
      expect(() =>
        parseConfig(
          withStorage('  file_storage:\n    fsync: sometimes', 'file_storage', 'file_storage'),
        ),
      ).toThrow(/extensions\.file_storage\.directory: .*\n[\s\S]*extensions\.file_storage\.fsync/);
    });

    it("checks a processor's storage reference too", () => {
      const yaml = (enabled: string) => `
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  interval:
    storage: file_storage
exporters:
  debug: {}
extensions:
  file_storage:
    directory: /tmp/q
service:
  extensions: [${enabled}]
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [interval]
      exporters: [debug]
`;
      expect(parseConfig(yaml('file_storage')).processors.get('interval')).toBeDefined();
      expect(() => parseConfig(yaml(''))).toThrow(
        'processors.interval.storage: "file_storage" is not an extension enabled in service.extensions',
      );
    });

    it('sluice validate checks the directory and says what its queues hold', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-storage-'));
      try {
        const file = join(dir, 'file');
        await writeFile(file, 'x');
        const out: string[] = [];
        const err: string[] = [];
        const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
        const config = join(dir, 'c.yaml');
        await writeFile(
          config,
          withStorage(`  file_storage:\n    directory: ${file}`, 'file_storage', 'file_storage'),
        );
        expect(await runCli(['validate', '--config', config], io)).toBe(1);
        expect(err.join('\n')).toContain(
          `extensions.file_storage.directory: file_storage directory ${file} cannot be used: not a directory`,
        );

        const queues = join(dir, 'queues');
        const queue = new PersistentQueue({
          directory: join(queues, 'exporter_otlphttp'),
          fsync: 'never',
          fsyncIntervalMs: 200,
          maxSizeBytes: 1 << 24,
          whenFull: 'block',
          maxRequestPoints: 1000,
          maxRequestBytes: 1 << 20,
          decode: false,
          logger: pino({ level: 'silent' }),
        });
        await queue.offer(counterBatch(7).batch);
        await writeFile(
          config,
          withStorage(`  file_storage:\n    directory: ${queues}`, 'file_storage', 'file_storage'),
        );
        await queue.dispose();
        expect(await runCli(['validate', '--config', config], io)).toBe(0);
        // A collector still running on the directory (another live process holds its lock).
        await writeFile(join(queues, 'exporter_otlphttp', 'LOCK'), `${process.ppid}\n`);
        expect(await runCli(['validate', '--config', config], io)).toBe(1);
        expect(err.join('\n')).toContain(
          `exporter_otlphttp is in use by process ${process.ppid}: another collector runs on this directory`,
        );
        expect(out.join('\n')).toContain('exporter_otlphttp: 1 requests, 7 points');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('auth references', () => {
  const withAuth = (
    extensions: string,
    enabled: string,
    receiverAuth: string,
    exporterAuth: string,
  ) => `
extensions:
${extensions}
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, auth: { authenticator: ${receiverAuth} } }
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:4318
    auth: { authenticator: ${exporterAuth} }
service:
  extensions: [${enabled}]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`;

  it('must name an enabled auth extension that can play its part', () => {
    expect(
      problems(
        withAuth(
          '  basicauth/in: { htpasswd: { inline: "" } }\n  basicauth/out: { client_auth: { username: u, password: p } }',
          'basicauth/in, basicauth/out',
          'basicauth/in',
          'basicauth/out',
        ),
      ),
    ).toEqual([]);
    expect(
      problems(
        withAuth(
          '  basicauth/in: { htpasswd: { inline: "" } }\n  basicauth/out: { client_auth: { username: u, password: p } }',
          'basicauth/in, basicauth/out',
          'basicauth/out',
          'basicauth/in',
        ),
      ),
    ).toEqual([
      'receivers.otlp.protocols.http.auth.authenticator: "basicauth/out" has no htpasswd to check clients against',
      'exporters.otlphttp.auth.authenticator: "basicauth/in" has no client_auth to send',
    ]);
    expect(
      problems(
        withAuth(
          '  bearertokenauth: { token: t }\n  file_storage: { directory: /tmp }',
          'file_storage',
          'bearertokenauth',
          'file_storage',
        ),
      ),
    ).toEqual([
      'receivers.otlp.protocols.http.auth.authenticator: "bearertokenauth" is not an extension enabled in service.extensions (enabled: file_storage)',
      'exporters.otlphttp.auth.authenticator: "file_storage" is not an auth extension (bearertokenauth, basicauth)',
    ]);
    expect(
      problems(
        withAuth('  bearertokenauth: {}', 'bearertokenauth', 'bearertokenauth', 'bearertokenauth'),
      ),
    ).toEqual(['extensions.bearertokenauth: set one of token or filename (got {})']);
  });
});

describe('docs/migration.md', () => {
  it('its worked example needs exactly the four changes the page names', () => {
    const page = readFileSync(new URL('../../docs/migration.md', import.meta.url), 'utf8');
    const example = /<!-- migration:example -->\n```yaml\n([\s\S]*?)```/.exec(page)![1];
    const found = problems(example);
    expect(found).toEqual([
      expect.stringMatching(/^extensions\.health_check: unknown extension type/),
      'receivers.otlp.protocols.http: unknown key "cors"',
      'processors.memory_limiter: unknown key "limit_percentage"',
      expect.stringMatching(/^processors\.memory_limiter\.limit_mib: set limit_mib/),
      'service.pipelines.traces: sluice runs metrics pipelines only (got "traces")',
    ]);
    const changed = example
      .replace(', cors: { allowed_origins: ["*"] }', '')
      .replace('limit_percentage: 80', 'limit_mib: 512')
      .replace('  health_check: {}\n', '')
      .replace('[file_storage, health_check]', '[file_storage]')
      .replace(/ {4}traces: .*\n/, '');
    expect(problems(changed)).toEqual([]);
  });
});
