import { bytesKey, encodeKeyValues } from '../model/key-value-bytes.js';
import type { MetricBatch } from '../model/metric-batch.js';

/**
 * Identity of a series across batches, for stateful processors: resource, scope, metric name
 * and type, and the point's attribute set, as one string. Resource and scope parts are
 * computed once per batch.
 */
export class SeriesKeys {
  readonly #batch: MetricBatch;
  readonly #metricPrefix: string[];
  readonly #resourceKeys: string[];
  readonly #setKey: (string | undefined)[] = [];

  constructor(batch: MetricBatch) {
    this.#batch = batch;
    const resourceKeys = batch.resources.map(
      (r) => `${bytesKey(encodeKeyValues(r.attributes))}\u0001${r.schemaUrl}`,
    );
    this.#resourceKeys = resourceKeys;
    const scopeKeys = batch.scopes.map(
      (s) => `${resourceKeys[s.resource]}\u0001${s.name}\u0001${s.version}`,
    );
    this.#metricPrefix = batch.metrics.map(
      (m) => `${scopeKeys[m.scope]}\u0001${m.name}\u0001${m.type}\u0001`,
    );
  }

  /** Identity of resource `r`. */
  resourceKey(r: number): string {
    return this.#resourceKeys[r];
  }

  /** The resource, scope and metric part of the key of metric `m`. */
  metricPrefix(m: number): string {
    return this.#metricPrefix[m];
  }

  of(point: number): string {
    const batch = this.#batch;
    const series = batch.points.series[point];
    const set = batch.seriesAttributes(series);
    let setKey = this.#setKey[set];
    if (setKey === undefined) {
      setKey = bytesKey(batch.attributes.bytes(set));
      this.#setKey[set] = setKey;
    }
    return this.#metricPrefix[batch.seriesMetric(series)] + setKey;
  }
}
