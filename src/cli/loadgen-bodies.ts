import { encodeMetricsRequest } from '../codec/protobuf/encode-request.js';
import {
  DataField,
  DistributionField,
  HistogramPointField,
  MetricField,
  NumberPointField,
  PointField,
  RequestField,
  ResourceMetricsField,
  ScopeMetricsField,
} from '../codec/protobuf/otlp-fields.js';
import { SluiceError } from '../model/errors.js';
import { MetricBatch } from '../model/metric-batch.js';
import { MetricType, Temporality } from '../model/types.js';
import { setU64NumberAt } from '../model/wire.js';
import { WireReader } from '../model/wire-reader.js';

/** What the load generator sends: how many series, in which requests, and how they change. */
export interface BodyPlan {
  /** Distinct series of the base load (counters, histograms and a few gauges). */
  series: number;
  /** Points per request. */
  batchPoints: number;
  /** More counter series on one route, told apart by a `user.id` with this many values. */
  cardinalityBomb: number;
  /** The process's instance label (the resource's `service.instance.id`). */
  instance: string;
}

export const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500];
const BUCKETS = BOUNDS.length + 1;

/** Where a point's changing fields are in its request, and the series it belongs to. */
interface PointSlot {
  kind: 'counter' | 'gauge' | 'histogram';
  series: number;
  /** The value (counter, gauge), or the count (histogram). */
  valueAt: number;
  /** Histogram: the sum and the first bucket count. */
  sumAt: number;
  bucketsAt: number;
}

/**
 * One prebuilt request and what changes from one send to the next: every point's time, a
 * counter's value (its series' rate times the seconds since the start), a gauge's value (a
 * slow wave), a histogram's bucket counts, count and sum (new observations each send,
 * around a bucket of the series' own). Only those bytes are written, in place, so a send
 * costs what its copy costs, not an encode.
 */
export class LoadBody {
  bytes: Uint8Array;
  /** Sends of it still on the wire: a change then goes into a copy (the sent bytes stay whole). */
  sending = 0;
  readonly points: number;
  readonly #timeOffsets: number[];
  readonly #slots: PointSlot[];
  /** Histogram state per slot: cumulative bucket counts, count and sum. */
  readonly #counts: Float64Array;
  readonly #totals: Float64Array;

  constructor(batch: MetricBatch, time: bigint, firstSeries: number) {
    this.bytes = encodeMetricsRequest(batch);
    this.points = batch.pointCount;
    this.#timeOffsets = offsetsOf(this.bytes, time);
    this.#slots = pointSlots(this.bytes, firstSeries);
    if (this.#slots.length !== this.points || this.#slots.some((s) => s.valueAt < 0))
      throw new SluiceError(
        'SLUICE_ERR_LOADGEN',
        'loadgen: a built request did not read back as written',
      );
    this.#counts = new Float64Array(this.#slots.length * BUCKETS);
    this.#totals = new Float64Array(this.#slots.length * 2);
    for (let k = 0; k < this.#slots.length; k++) {
      if (this.#slots[k].kind !== 'histogram') continue;
      // What the encoder wrote: one observation per bucket, sum 100.
      this.#counts.fill(1, k * BUCKETS, (k + 1) * BUCKETS);
      this.#totals[2 * k] = BUCKETS;
      this.#totals[2 * k + 1] = 100;
    }
  }

  /** Prepares the next send at `nanos` (since the epoch), `elapsedSeconds` into the load. */
  advance(nanos: bigint, elapsedSeconds: number): void {
    if (this.sending > 0) this.bytes = new Uint8Array(this.bytes);
    const bytes = this.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const low = Number(nanos & 0xffffffffn);
    const high = Number(nanos >> 32n);
    for (const at of this.#timeOffsets) {
      view.setUint32(at, low, true);
      view.setUint32(at + 4, high, true);
    }
    for (let k = 0; k < this.#slots.length; k++) {
      const slot = this.#slots[k];
      const s = slot.series;
      if (slot.kind === 'counter') {
        view.setFloat64(slot.valueAt, Math.floor((1 + (s % 50)) * elapsedSeconds * 10) + s, true);
      } else if (slot.kind === 'gauge') {
        const wave = Math.sin((2 * Math.PI * elapsedSeconds) / 60 + s);
        view.setFloat64(slot.valueAt, Math.round(500 + 400 * wave), true);
      } else {
        this.#observe(k, s, view, slot);
      }
    }
  }

  /** A few new observations, most in the series' own bucket, written as cumulative counts. */
  #observe(k: number, s: number, view: DataView, slot: PointSlot): void {
    const counts = this.#counts;
    const home = s % BUCKETS;
    const added = 3 + (s % 5);
    const below = Math.max(0, home - 1);
    const above = Math.min(BUCKETS - 1, home + 1);
    counts[k * BUCKETS + home] += added - 2;
    counts[k * BUCKETS + below] += 1;
    counts[k * BUCKETS + above] += 1;
    const totals = this.#totals;
    totals[2 * k] += added;
    totals[2 * k + 1] += added * (BOUNDS[Math.min(home, BOUNDS.length - 1)] * 0.8);
    setU64NumberAt(view, slot.valueAt, totals[2 * k]);
    view.setFloat64(slot.sumAt, totals[2 * k + 1], true);
    // Only the buckets that changed: the bytes hold the others already (a copy too).
    setU64NumberAt(view, slot.bucketsAt + 8 * below, counts[k * BUCKETS + below]);
    setU64NumberAt(view, slot.bucketsAt + 8 * home, counts[k * BUCKETS + home]);
    setU64NumberAt(view, slot.bucketsAt + 8 * above, counts[k * BUCKETS + above]);
  }
}

/**
 * The requests of a load: `ceil((series + bomb) / batchPoints)` bodies of `batchPoints`
 * points, series `b * batchPoints + k` (modulo the total) in body `b`. `generation` names
 * the series' instance (`loadgen.generation`): churn builds a body anew with the next one.
 */
export function buildBody(
  plan: BodyPlan,
  b: number,
  generation: number,
  startNanos: bigint,
): LoadBody {
  const perBody = plan.batchPoints;
  const total = plan.series + plan.cardinalityBomb;
  // Point times start one nanosecond after the start times, so their bytes can be told apart.
  const time = startNanos + 1n;
  const batch = new MetricBatch({ points: perBody });
  const scope = batch.addScope(
    batch.addResource({
      attributes: { 'service.name': 'loadgen', 'service.instance.id': plan.instance },
    }),
    { name: 'sluice.loadgen' },
  );
  // Metrics are added when their first point is: a body without a gauge point has no gauge.
  const metrics = new Map<string, number>();
  const metric = (name: string, descriptor: () => Parameters<MetricBatch['addMetric']>[1]) => {
    let id = metrics.get(name);
    if (id === undefined) {
      id = batch.addMetric(scope, descriptor());
      metrics.set(name, id);
    }
    return id;
  };
  const counter = () =>
    metric('loadgen.requests', () => ({
      name: 'loadgen.requests',
      type: MetricType.Sum,
      temporality: Temporality.Cumulative,
      monotonic: true,
    }));
  const histogram = () =>
    metric('loadgen.duration', () => ({
      name: 'loadgen.duration',
      type: MetricType.Histogram,
      temporality: Temporality.Cumulative,
      unit: 'ms',
    }));
  const gauge = () =>
    metric('loadgen.queue.depth', () => ({ name: 'loadgen.queue.depth', type: MetricType.Gauge }));
  const churned = generation > 0 ? { 'loadgen.generation': generation } : {};
  for (let k = 0; k < perBody; k++) {
    const s = (b * perBody + k) % total;
    if (s >= plan.series) {
      batch.addNumberPoint(
        batch.series(counter(), {
          'http.route': '/login',
          'http.method': 'POST',
          'http.status_code': 200,
          host: `h${s % 16}`,
          'user.id': `u${s - plan.series}`,
          ...churned,
        }),
        { startTime: startNanos, time, value: 0.5 },
      );
      continue;
    }
    const attributes = {
      'http.route': `/items/${s >> 1}`,
      'http.method': 'GET',
      'http.status_code': 200 + (s % 5),
      host: `h${s % 16}`,
      ok: s % 3 !== 0,
      ...churned,
    };
    if (s % 2 === 1)
      batch.addHistogramPoint(batch.series(histogram(), attributes), {
        startTime: startNanos,
        time,
        count: BUCKETS,
        sum: 100,
        bounds: BOUNDS,
        bucketCounts: new Array(BUCKETS).fill(1),
      });
    else if (s % 20 === 0)
      batch.addNumberPoint(batch.series(gauge(), attributes), { time, value: 0.5 });
    else
      batch.addNumberPoint(batch.series(counter(), attributes), {
        startTime: startNanos,
        time,
        value: 0.5,
      });
  }
  return new LoadBody(batch, time, b * perBody);
}

/** Where the little-endian u64 `value` occurs in `bytes`. */
function offsetsOf(bytes: Uint8Array, value: bigint): number[] {
  const pattern = new Uint8Array(8);
  new DataView(pattern.buffer).setBigUint64(0, value, true);
  const haystack = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  for (let at = haystack.indexOf(pattern); at !== -1; at = haystack.indexOf(pattern, at + 8)) {
    offsets.push(at);
  }
  return offsets;
}

/**
 * The changing fields of every point of an encoded request, in the request's order (the
 * encoder groups points by metric), each numbered from `firstSeries`: a number that stays
 * with the point from send to send and picks its rate, wave and bucket. Walks the request
 * as the encoder wrote it; values are doubles (`as_double`), as the bodies are built.
 */
function pointSlots(bytes: Uint8Array, firstSeries: number): PointSlot[] {
  const slots: PointSlot[] = [];
  const reader = new WireReader(bytes);
  const inside = (end: number, tag: number, each: (end: number) => void) => {
    while (reader.pos < end) {
      const t = reader.varint32(end);
      if (t === tag) each(reader.delimited(end));
      else reader.skip(t & 7, end);
    }
  };
  const point = (kind: PointSlot['kind'], end: number) => {
    const slot: PointSlot = {
      kind,
      series: firstSeries + slots.length,
      valueAt: -1,
      sumAt: -1,
      bucketsAt: -1,
    };
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      const at = reader.pos;
      if (kind !== 'histogram' && tag === NumberPointField.AsDouble) slot.valueAt = at;
      else if (kind === 'histogram' && tag === DistributionField.Count) slot.valueAt = at;
      else if (kind === 'histogram' && tag === DistributionField.Sum) slot.sumAt = at;
      else if (kind === 'histogram' && tag === HistogramPointField.BucketCounts) {
        const stop = reader.delimited(end);
        slot.bucketsAt = reader.pos;
        reader.pos = stop;
        continue;
      } else if (tag !== PointField.StartTime && tag !== PointField.Time) {
        reader.skip(tag & 7, end);
        continue;
      }
      reader.skip(tag & 7, end);
    }
    slots.push(slot);
  };
  inside(bytes.length, RequestField.ResourceMetrics, (rm) =>
    inside(rm, ResourceMetricsField.ScopeMetrics, (sm) =>
      inside(sm, ScopeMetricsField.Metrics, (metricEnd) => {
        while (reader.pos < metricEnd) {
          const tag = reader.varint32(metricEnd);
          const kind =
            tag === MetricField.Sum
              ? 'counter'
              : tag === MetricField.Gauge
                ? 'gauge'
                : tag === MetricField.Histogram
                  ? 'histogram'
                  : undefined;
          if (!kind) reader.skip(tag & 7, metricEnd);
          else inside(reader.delimited(metricEnd), DataField.Points, (end) => point(kind, end));
        }
      }),
    ),
  );
  return slots;
}
