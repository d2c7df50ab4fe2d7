import { describe, expect, it } from 'vitest';
import { influxdbExporterConfig } from '../../src/exporters/influxdb/config.js';
import { influxWriteUrl } from '../../src/exporters/influxdb/factory.js';
import { toLineProtocol } from '../../src/exporters/influxdb/line-protocol.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';

describe('influxdb line protocol', () => {
  it('escapes names and tags, sorts tags, and skips what has no line', () => {
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource({ attributes: { zone: 'eu west' } }), {
      name: 'lib',
    });
    const g = batch.addMetric(scope, { name: 'cpu load,1m', type: MetricType.Gauge });
    const e = batch.addMetric(scope, {
      name: 'sizes',
      type: MetricType.ExponentialHistogram,
      temporality: Temporality.Delta,
    });
    batch.addNumberPoint(batch.series(g, { 'a=b': 'x,y', empty: '' }), { time: 7n, value: 0.25 });
    batch.addNumberPoint(batch.series(g, {}), { time: 8n, value: Number.NaN });
    batch.addExponentialHistogramPoint(batch.series(e, {}), {
      time: 9n,
      count: 1,
      sum: 1,
      scale: 0,
      zeroCount: 0,
    });
    const { text, lines, skipped } = toLineProtocol(batch);
    expect(text).toBe(
      'cpu\\ load\\,1m,a\\=b=x\\,y,otel.scope.name=lib,zone=eu\\ west gauge=0.25 7\n',
    );
    expect(lines).toBe(1);
    expect(skipped).toEqual({ non_finite_value: 1, exponential_histogram: 1 });
  });

  it('writes to /api/v2/write with org, bucket and ns precision, or to v1 /write with db', () => {
    const v2 = influxdbExporterConfig.parse({
      endpoint: 'http://127.0.0.1:8086/',
      org: 'acme',
      bucket: 'metrics',
      token: 't0ken',
    });
    expect(influxWriteUrl(v2).toString()).toBe(
      'http://127.0.0.1:8086/api/v2/write?precision=ns&org=acme&bucket=metrics',
    );
    const v1 = influxdbExporterConfig.parse({
      endpoint: 'http://127.0.0.1:8086',
      v1_compatibility: { enabled: true, db: 'm', username: 'u', password: 'p' },
    });
    expect(influxWriteUrl(v1).toString()).toBe(
      'http://127.0.0.1:8086/write?precision=ns&db=m&u=u&p=p',
    );
    const missing = influxdbExporterConfig.safeParse({ endpoint: 'http://127.0.0.1:8086' });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0].message).toContain('set org and bucket');
  });
});
