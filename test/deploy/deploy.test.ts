import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/collector/config/load-config.js';

// The files docs/deployment.md points at: they must run what the docs say they run.

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
/** The flags the sluice bin starts Node with (its #! line), e.g. `--initial-old-space-size=128`. */
const binFlags = /^#!\/usr\/bin\/env -S node (.*)$/m.exec(read('src/cli/main.ts'))![1].split(' ');
const env = { SLUICE_INGEST_TOKEN: 'test-token', SLUICE_BACKEND: 'https://backend:4318' };

describe('deploy/', () => {
  it('collector.yaml is a valid config that keeps its admin server private', () => {
    const config = parseConfig(read('deploy/collector.yaml'), 'deploy/collector.yaml', env);
    expect(config.adminAddress).toBe('127.0.0.1:8888');
    expect(config.pipelines[0].exporters).toEqual(['otlphttp', 'prometheus']);
    // Without its token it does not start: no open ingest by accident.
    expect(() => parseConfig(read('deploy/collector.yaml'), 'x', {})).toThrow(
      /SLUICE_INGEST_TOKEN/,
    );
  });

  it('sluice.service runs the bin’s flags with the config, reloads on SIGHUP, and passes systemd-analyze', () => {
    const unit = read('deploy/sluice.service');
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1].split(' ');
    expect(exec.slice(0, 2)).toEqual(['/usr/bin/env', 'node']);
    expect(exec.slice(2, 2 + binFlags.length)).toEqual(binFlags);
    expect(exec.slice(-3)).toEqual(['run', '--config', '/etc/sluice/collector.yaml']);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    // Longer than the 30 s drain.
    expect(Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)![1])).toBeGreaterThan(30);
    if (existsSync('/usr/bin/systemd-analyze')) {
      const path = new URL('../../deploy/sluice.service', import.meta.url).pathname;
      execFileSync('systemd-analyze', ['verify', path], { stdio: 'pipe' });
    }
  });

  it('the Containerfile starts the bin with its flags and the image’s config', () => {
    const file = read('deploy/Containerfile');
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(file)![1]) as string[];
    expect(entrypoint).toEqual(['node', ...binFlags, 'dist/cli/main.js']);
    expect(JSON.parse(/^CMD (.*)$/m.exec(file)![1])).toEqual([
      'run',
      '--config',
      '/etc/sluice/collector.yaml',
    ]);
    expect(file).toContain('COPY deploy/collector.yaml /etc/sluice/collector.yaml');
    expect(file).toMatch(/^USER node$/m);
  });

  it('sidecar.yaml: the ConfigMap’s config is valid and the probes reach its admin server', () => {
    const [configMap, deployment] = parseAllDocuments(read('deploy/sidecar.yaml')).map((d) =>
      d.toJS(),
    );
    const config = parseConfig(configMap.data['collector.yaml'], 'sidecar', env);
    const port = Number(config.adminAddress.split(':').pop());
    const sluice = deployment.spec.template.spec.containers.find(
      (c: { name: string }) => c.name === 'sluice',
    );
    expect(sluice.livenessProbe.httpGet).toEqual({ path: '/healthz', port });
    expect(sluice.readinessProbe.httpGet).toEqual({ path: '/readyz', port });
    expect(sluice.args).toEqual(['run', '--config', '/etc/sluice/collector.yaml']);
    // The app sends where the sidecar listens.
    const app = deployment.spec.template.spec.containers.find(
      (c: { name: string }) => c.name === 'app',
    );
    const endpoint = app.env.find(
      (e: { name: string }) => e.name === 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
    ).value;
    const http = (
      config.receivers.get('otlp')!.config as { protocols: { http: { endpoint: string } } }
    ).protocols.http;
    expect(endpoint).toBe(`http://${http.endpoint}/v1/metrics`);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(30);
  });
});
