import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AdminServer } from '../../src/collector/admin-server.js';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { exporters, extensions, processors, receivers } from '../../src/collector/registry.js';
import type { ComponentFactory } from '../../src/model/component-factory.js';

// The OpenTelemetry Collector's generated component tests, for sluice's registry: every
// component, from the config its factory says a user starts from, validates, starts, shows
// up on /metrics, shuts down, and shuts down a second time harmlessly. A component added
// to the registry is swept here without anyone writing a test for it.

const dir = mkdtempSync(join(tmpdir(), 'sluice-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// The files the auth extensions' default configs name: a token, an htpasswd (bcrypt, cost 4).
writeFileSync(join(dir, 'token'), 'sweep-token\n');
writeFileSync(
  join(dir, 'htpasswd'),
  'sweep:$2b$04$sY/UNgvXc1eb0/sY4t64NeGy1sVGrxmbmOa9ezrKoEEeoBeUVljiW\n',
);
const AUTH_EXTENSIONS = new Set(['bearertokenauth', 'basicauth']);

const silent = pino({ level: 'silent' });

/** The test's own resources: loopback listen addresses on free ports, files in a temp dir. */
function ownPortsAndFiles(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (/^127\.0\.0\.1:\d+$/.test(value)) return '127.0.0.1:0';
    if (key === 'path') return join(dir, 'out.jsonl');
    if (key === 'directory') return join(dir, 'storage');
    if (key === 'filename') return join(dir, 'token');
    if (key === 'file') return join(dir, 'htpasswd');
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => ownPortsAndFiles(item));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, ownPortsAndFiles(v, k)]));
  return value;
}

type Kind = 'receivers' | 'processors' | 'exporters' | 'extensions';

/** A config running `factory`'s component in a pipeline with whatever else it needs. */
function configAround(kind: Kind, factory: ComponentFactory<unknown>): string {
  const own = ownPortsAndFiles(factory.createDefaultConfig());
  // An auth extension guards the OTLP receiver; a storage extension holds the debug
  // exporter's queue.
  const auth = kind === 'extensions' && AUTH_EXTENSIONS.has(factory.type);
  const otlp = {
    protocols: {
      http: { endpoint: '127.0.0.1:0', ...(auth ? { auth: { authenticator: factory.type } } : {}) },
    },
  };
  const config = {
    receivers: kind === 'receivers' ? { [factory.type]: own } : { otlp },
    processors: kind === 'processors' ? { [factory.type]: own } : {},
    exporters:
      kind === 'exporters'
        ? { [factory.type]: own }
        : {
            debug:
              kind === 'extensions' && !auth ? { sending_queue: { storage: factory.type } } : {},
          },
    extensions: kind === 'extensions' ? { [factory.type]: own } : {},
    service: {
      extensions: kind === 'extensions' ? [factory.type] : [],
      telemetry: { metrics: { address: '127.0.0.1:0' } },
      decode_threads: 0,
      pipelines: {
        metrics: {
          receivers: [kind === 'receivers' ? factory.type : 'otlp'],
          processors: kind === 'processors' ? [factory.type] : [],
          exporters: [kind === 'exporters' ? factory.type : 'debug'],
        },
      },
    },
  };
  return stringify(config);
}

const registered = (kind: Kind, registry: Record<string, ComponentFactory<unknown>>) =>
  Object.entries(registry).map(([type, factory]) => ({ kind, type, factory }));

const everyComponent = [
  ...registered('receivers', receivers),
  ...registered('processors', processors),
  ...registered('exporters', exporters),
  ...registered('extensions', extensions),
];

describe('the component registry', () => {
  it('registers each factory under its own type and kind, with a description', () => {
    expect(everyComponent.length).toBeGreaterThanOrEqual(23);
    for (const { kind, type, factory } of everyComponent) {
      expect(factory.type).toBe(type);
      expect(`${factory.kind}s`).toBe(kind);
      expect(factory.description).toMatch(/^[A-Z].{10,100}[^.]$/);
    }
  });

  it.each(everyComponent)(
    '$kind $type: validates from its default config, starts, is on /metrics, shuts down twice',
    async ({ kind, type, factory }) => {
      const collector = new Collector(parseConfig(configAround(kind, factory)), silent);
      const admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
      await collector.start();
      await admin.start();
      const metrics = await (await fetch(`http://${admin.address}/metrics`)).text();
      await admin.stop();

      if (kind === 'receivers') {
        const receiver = collector.receivers.get(type)!;
        const transports = Object.keys(receiver.statsByTransport);
        expect(transports.length).toBeGreaterThan(0);
        for (const transport of transports) {
          expect(metrics).toContain(
            `sluice_receiver_requests_total{receiver="${type}",transport="${transport}"} 0\n`,
          );
        }
        expect(receiver.addresses.length).toBeGreaterThan(0);
      } else if (kind === 'processors') {
        expect(metrics).toContain(
          `sluice_processor_incoming_points_total{processor="${type}",pipeline="metrics"} 0\n`,
        );
        expect(collector.processors[0].component.dropped).toEqual({});
      } else if (kind === 'exporters') {
        expect(metrics).toContain(`sluice_exporter_incoming_points_total{exporter="${type}"} 0\n`);
        expect(collector.exporters.get(type)!.dropped).toEqual({});
      } else if (AUTH_EXTENSIONS.has(type)) {
        // A request without credentials is refused, and counted.
        const otlp = collector.receivers.get('otlp') as unknown as { http: { address: string } };
        const response = await fetch(`http://${otlp.http.address}/v1/metrics`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf' },
          body: new Uint8Array(0),
        });
        expect(response.status).toBe(401);
        await admin.start();
        const after = await (await fetch(`http://${admin.address}/metrics`)).text();
        await admin.stop();
        expect(after).toContain(
          'sluice_receiver_refused_requests_total{receiver="otlp",transport="http",reason="unauthenticated"} 1\n',
        );
      } else {
        expect(collector.extensions.has(type)).toBe(true);
        expect(metrics).toContain('sluice_exporter_storage_records{exporter="debug"} 0\n');
      }

      await collector.shutdown(2_000);
      const components = [
        ...collector.receivers.values(),
        ...collector.processors.map((p) => p.component),
        ...collector.exporters.values(),
        ...collector.extensions.values(),
      ];
      for (const component of components) {
        await expect(component.shutdown({ deadlineMs: 1_000 })).resolves.toBeUndefined();
      }
    },
  );
});
