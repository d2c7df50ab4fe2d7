import type { KeyValue } from './any-value.js';
import { bytesKey, encodeKeyValues } from './key-value-bytes.js';
import { MetricBatch } from './metric-batch.js';
import type { MetricDescriptor, Resource, Scope } from './types.js';

/**
 * Copies points from other batches into one target batch: the batcher merges small batches
 * and splits large ones with it. Resources, scopes and metrics that are equal in content
 * are stored once in the target (two exports of one SDK share them), attribute sets are
 * re-interned by their bytes, and columns are copied row by row without objects.
 */
export class BatchCopier {
  readonly target: MetricBatch;
  #resources = new Map<string, number>();
  #scopes = new Map<string, number>();
  #metrics = new Map<string, number>();

  constructor(target: MetricBatch = new MetricBatch()) {
    this.target = target;
  }

  /**
   * Appends points `[start, end)` of `source` (all of them by default). `options.keep`
   * selects points; `mapAttributes` / `mapResourceAttributes` rewrite point and resource
   * attributes (called once per distinct set or resource), for processors.
   */
  append(source: MetricBatch, start = 0, end = source.pointCount, options: CopyOptions = {}): void {
    const target = this.target;
    const { keep, mapAttributes, mapResourceAttributes } = options;
    const metricMap = new Int32Array(source.metrics.length).fill(-1);
    const setMap = new Int32Array(source.attributes.count).fill(-1);
    const scopeMap = new Int32Array(source.scopes.length).fill(-1);
    const resourceMap = new Int32Array(source.resources.length).fill(-1);

    const mapResource = (r: number): number => {
      if (resourceMap[r] === -1) {
        const resource = source.resources[r];
        resourceMap[r] = this.#resource(
          mapResourceAttributes
            ? { ...resource, attributes: mapResourceAttributes(resource.attributes) }
            : resource,
        );
      }
      return resourceMap[r];
    };
    const mapScope = (s: number): number => {
      if (scopeMap[s] === -1) {
        const scope = source.scopes[s];
        scopeMap[s] = this.#scope(mapResource(scope.resource), scope);
      }
      return scopeMap[s];
    };
    const mapMetric = (m: number): number => {
      if (metricMap[m] === -1) {
        const metric = source.metrics[m];
        metricMap[m] = this.#metric(mapScope(metric.scope), metric);
      }
      return metricMap[m];
    };

    const sp = source.points;
    const sd = source.distributions;
    const tp = target.points;
    const td = target.distributions;
    const sourceSets = source.attributes;
    tp.reserve(end - start);
    for (let i = start; i < end; i++) {
      if (keep && !keep(i)) continue;
      const series = sp.series[i];
      const set = source.seriesAttributes(series);
      if (setMap[set] === -1) {
        setMap[set] = mapAttributes
          ? target.attributes.intern(mapAttributes(sourceSets.values(set)))
          : target.attributes.internBytes(sourceSets.bytes(set), sourceSets.hash(set));
      }
      const j = target.appendPointRow(
        target.seriesOf(mapMetric(source.seriesMetric(series)), setMap[set]),
      );
      copyWords(sp.startTime.u32, i, tp.startTime.u32, j);
      copyWords(sp.time.u32, i, tp.time.u32, j);
      copyWords(sp.value.u32, i, tp.value.u32, j);
      tp.flags[j] = sp.flags[i];
      tp.bits[j] = sp.bits[i];
      const exemplarsFrom = i === 0 ? 0 : sp.exemplarEnd[i - 1];
      for (let e = exemplarsFrom; e < sp.exemplarEnd[i]; e++)
        target.exemplars.push(source.exemplars[e]);
      tp.exemplarEnd[j] = target.exemplars.length;
      if (!isDistribution(source.metrics[source.seriesMetric(series)])) continue;

      const row = sp.detail[i];
      const r = target.appendDistributionRow(j);
      copyWords(sd.total.u32, row, td.total.u32, r);
      copyWords(sd.zeroCount.u32, row, td.zeroCount.u32, r);
      td.min[r] = sd.min[row];
      td.max[r] = sd.max[row];
      td.scale[r] = sd.scale[row];
      td.zeroThreshold[r] = sd.zeroThreshold[row];
      td.positiveOffset[r] = sd.positiveOffset[row];
      td.negativeOffset[r] = sd.negativeOffset[row];
      [td.positiveStart[r], td.positiveLength[r]] = copyCounts(
        sd,
        sd.positiveStart[row],
        sd.positiveLength[row],
        td,
      );
      [td.negativeStart[r], td.negativeLength[r]] = copyCounts(
        sd,
        sd.negativeStart[row],
        sd.negativeLength[row],
        td,
      );
      const length = sd.boundsLength[row];
      td.reserveFloats(length);
      td.floats.set(
        sd.floats.subarray(sd.boundsStart[row], sd.boundsStart[row] + length),
        td.floatsUsed,
      );
      td.commitBounds(r, length);
    }
  }

  #resource(resource: Resource): number {
    const key = `${bytesKey(encodeKeyValues(resource.attributes))}\u0000${resource.droppedAttributesCount}\u0000${resource.schemaUrl}`;
    let r = this.#resources.get(key);
    if (r === undefined) {
      r = this.target.addResource({ ...resource, attributes: [...resource.attributes] });
      this.#resources.set(key, r);
    }
    return r;
  }

  #scope(resource: number, scope: Scope): number {
    const key = [
      resource,
      scope.name,
      scope.version,
      bytesKey(encodeKeyValues(scope.attributes)),
      scope.droppedAttributesCount,
      scope.schemaUrl,
    ].join('\u0000');
    let s = this.#scopes.get(key);
    if (s === undefined) {
      s = this.target.addScope(resource, { ...scope, attributes: [...scope.attributes] });
      this.#scopes.set(key, s);
    }
    return s;
  }

  #metric(scope: number, metric: MetricDescriptor): number {
    const key = [
      scope,
      metric.name,
      metric.description,
      metric.unit,
      metric.type,
      metric.temporality,
      metric.monotonic,
      bytesKey(encodeKeyValues(metric.metadata)),
    ].join('\u0000');
    let m = this.#metrics.get(key);
    if (m === undefined) {
      m = this.target.addMetric(scope, { ...metric, metadata: [...metric.metadata] });
      this.#metrics.set(key, m);
    }
    return m;
  }
}

export interface CopyOptions {
  keep?: (point: number) => boolean;
  mapAttributes?: (values: KeyValue[]) => KeyValue[];
  mapResourceAttributes?: (values: KeyValue[]) => KeyValue[];
}

/**
 * Splits `batch` into batches of at most `maxPoints` points (the batch itself when it
 * fits). Points keep their order.
 */
export function splitBatch(batch: MetricBatch, maxPoints: number): MetricBatch[] {
  if (batch.pointCount <= maxPoints) return [batch];
  const parts: MetricBatch[] = [];
  for (let start = 0; start < batch.pointCount; start += maxPoints) {
    const copier = new BatchCopier();
    copier.append(batch, start, Math.min(batch.pointCount, start + maxPoints));
    parts.push(copier.target);
  }
  return parts;
}

function isDistribution(metric: MetricDescriptor): boolean {
  return metric.type >= 3;
}

function copyWords(from: Uint32Array, i: number, to: Uint32Array, j: number): void {
  to[2 * j] = from[2 * i];
  to[2 * j + 1] = from[2 * i + 1];
}

function copyCounts(
  from: MetricBatch['distributions'],
  start: number,
  length: number,
  to: MetricBatch['distributions'],
): [number, number] {
  to.reserveBucketCounts(length);
  const at = to.bucketCountsUsed;
  to.bucketCounts.u32.set(from.bucketCounts.u32.subarray(2 * start, 2 * (start + length)), 2 * at);
  to.bucketCountsUsed = at + length;
  return [at, length];
}
