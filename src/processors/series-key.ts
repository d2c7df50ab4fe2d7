import type { KeyValue } from '../model/any-value.js';
import { bytesKey, encodeKeyValues } from '../model/key-value-bytes.js';
import type { MetricBatch } from '../model/metric-batch.js';
import type { MetricType } from '../model/types.js';

/** Identity of a resource: its attributes in wire form and its schema URL. */
export function resourceKey(attributes: readonly KeyValue[], schemaUrl: string): string {
  return `${bytesKey(encodeKeyValues(attributes))}\u0001${schemaUrl}`;
}

/** The resource, scope and metric part of a series key (`SeriesKeys#metricPrefix`). */
export function metricPrefix(
  resource: string,
  scopeName: string,
  scopeVersion: string,
  name: string,
  type: MetricType,
): string {
  return `${resource}\u0001${scopeName}\u0001${scopeVersion}\u0001${name}\u0001${type}\u0001`;
}

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
    const resourceKeys = batch.resources.map((r) => resourceKey(r.attributes, r.schemaUrl));
    this.#resourceKeys = resourceKeys;
    this.#metricPrefix = batch.metrics.map((m) => {
      const scope = batch.scopes[m.scope];
      return metricPrefix(resourceKeys[scope.resource], scope.name, scope.version, m.name, m.type);
    });
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
