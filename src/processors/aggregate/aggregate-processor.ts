import type { KeyValue } from '../../model/any-value.js';
import { AttributeProjection } from '../../model/attribute-projection.js';
import { hashBytes, hashRange } from '../../model/attribute-table.js';
import { BatchCopier } from '../../model/batch-copier.js';
import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { PointColumns } from '../../model/point-columns.js';
import { PointView } from '../../model/point-view.js';
import {
  type MetricsRequestVisitor,
  PointRecord,
  type ScannedMetric,
} from '../../model/request-visitor.js';
import { noteUnreadable, type StateStore, storageOf } from '../../model/storage.js';
import { MetricType, PointBits, Temporality } from '../../model/types.js';
import { u64Number, u64NumberAt } from '../../model/wire.js';
import { growInt32 } from '../../model/words64.js';
import { PartitionProgress, partitionGoneQuietly } from '../partition-progress.js';
import type { Processor } from '../processor.js';
import { ScheduledEmitter } from '../scheduled-emitter.js';
import { metricPrefix, resourceKey, SeriesKeys } from '../series-key.js';
import {
  decodeAggregateState,
  type ExponentialState,
  encodeAggregateState,
  type OutputDescriptor,
} from './aggregate-state.js';
import { type AggregateConfig, type AggregateRule, globToRegExp } from './config.js';
import { bucketMap, bucketsSince, type ExponentialContribution } from './exponential.js';
import { InputSeriesTable } from './input-series.js';
import { buildOutputBatch } from './output-batch.js';
import { type MetricKind, OutputSeriesTable } from './output-series.js';
import type { InputProjection } from './output-sets.js';
import { before } from './u64-time.js';

/** A metric of a scanned request, as `visitMetric` resolved it. */
interface ScanMetric {
  metricId: number;
  type: MetricType;
  temporality: Temporality;
  gauge: 'last' | 'mean';
}

const TWO_32 = 2 ** 32;

/**
 * Re-aggregates selected metrics across the attributes a rule removes (`drop_attributes`)
 * or does not keep (`group_by`), and emits the merged series every `interval`: sums add,
 * histograms merge bucket by bucket, exponential histograms merge at the coarser scale,
 * gauges keep the last value or the mean. Cumulative inputs contribute their change since
 * their previous point (a drop is a reset), so merged cumulative outputs stay monotonic and
 * start at the earliest start time of their members. Other metrics pass straight through.
 *
 * The per-point path reads the batch columns directly — or, for OTLP requests the collector
 * scans instead of decoding (`MetricsRequestVisitor`), the numbers the scanner read — into
 * one `PointRecord`: an input series is found by hash and bytes in `InputSeriesTable`, its
 * output by index, and sums, gauges and histograms merge without allocating.
 */
export class AggregateProcessor implements Processor, MetricsRequestVisitor {
  readonly id: string;
  readonly #next: Consumer;
  readonly #rules: { rule: AggregateRule; patterns: RegExp[] }[];
  readonly #projections: Map<AggregateRule, AttributeProjection>;
  /** An output's set as input `input` gives it (see `OutputSets`). */
  readonly #projectInput: InputProjection = (metric, input) =>
    this.#projectionOf(metric)?.projectView(this.#inputs.bytes(input));
  #outputs = new OutputSeriesTable(this.#projectInput);
  readonly #maxStaleMs: number;
  #inputs = new InputSeriesTable();
  /** Persistent ids of metric identities (resource, scope, name, type, temporality, unit). */
  readonly #metricIds = new Map<string, number>();
  /** By metric id: what its outputs are emitted under. */
  readonly #descriptors: OutputDescriptor[] = [];
  #exponentialInputs = new Map<number, ExponentialState>();
  /**
   * The last (bounds bytes, output layout) found equal in this `consume`: a decoded batch
   * keeps one range for a metric's equal bounds, so most points skip the comparison.
   */
  #checkedAt = -1;
  #checkedView: DataView | undefined;
  #checkedLayout = -1;
  /** A cumulative histogram point's bucket counts, read once from the request. */
  #countsRead = new Float64Array(64);
  /** An output's metric type and temporality, by its metric id. */
  readonly #kind: MetricKind = (metricId) => this.#descriptors[metricId].metric;
  /** The rule of each metric name seen (null: none), so a name's globs run once. */
  readonly #ruleByName = new Map<string, AggregateRule | null>();
  /** By metric id: the projection of its rule (null: it has none now). */
  readonly #projectionByMetric: (AttributeProjection | null)[] = [];
  /**
   * A scanned request: its metrics, in order, and per checked point its input and the index
   * of its metric there; how many points were taken.
   */
  #scanMetrics: ScanMetric[] = [];
  #scanned = new Int32Array(1024);
  #scannedMetric = new Int32Array(1024);
  #scannedCount = 0;
  #taken = 0;
  #scanNow = 0;
  /** The input the next scanned point most likely belongs to (see `checkPoint`). */
  #predicted = 0;
  /** The scanned resource's key, computed once while the scanner hands over the same attributes. */
  #scanResourceAttributes: readonly KeyValue[] | undefined;
  #scanResourceSchemaUrl = '';
  #scanResourceKey = '';
  readonly #emitter: ScheduledEmitter;
  readonly #logger: ComponentSettings['logger'];
  readonly #clock: () => number;
  /**
   * With `storage`, or in a partition's chain: where the state is snapshotted after each
   * accepted emit.
   */
  readonly #store: StateStore | undefined;
  /** See `Processor.unreadableState`. */
  unreadableState = 0;
  /** The snapshot being written. */
  #saving: Promise<void> | undefined;
  /** In a partition's chain: a flush before the interval, about to run (`#flushIfPressed`). */
  #earlyFlush: NodeJS.Immediate | undefined;
  /** In a partition's chain: the marker that the last emit was delivered, being written. */
  #delivering: Promise<void> | undefined;
  /**
   * In a partition's chain (`ComponentSettings.partition`): the messages its state holds. The
   * state is the partition's, snapshotted to its store after each emit, and the source
   * forgets a message only once a snapshot holds it (`settled`).
   */
  readonly #progress: PartitionProgress | undefined;
  /** In a partition's chain: resolves once a snapshot holds everything accepted so far. */
  readonly settled?: () => Promise<void>;
  /**
   * Delta points merged since the last snapshot: a crash loses them (cumulative inputs
   * recover their change at their next point), so their count is journaled every second
   * and counted as `lost_on_restart` at the next start.
   */
  #deltasSinceSnapshot = 0;
  #deltasJournaled = 0;
  #journalTimer: NodeJS.Timeout | undefined;

  /** `clock` (ms) tells staleness; tests pass their own. */
  constructor(
    settings: ComponentSettings,
    config: AggregateConfig,
    next: Consumer,
    clock: () => number = Date.now,
  ) {
    this.id = settings.id;
    this.#logger = settings.logger;
    this.#clock = clock;
    this.#next = next;
    this.#emitter = new ScheduledEmitter(settings, next, {
      intervalMs: config.interval,
      flush: () => this.flush(),
    });
    this.#maxStaleMs = config.max_stale;
    if (settings.partition) {
      const progress = new PartitionProgress(settings.partition, settings.id);
      this.#progress = progress;
      this.#store = progress.store;
      this.settled = async () => {
        this.#flushIfPressed(progress);
        await progress.settled();
        // Points of metrics no rule matches went straight on.
        await next.settled?.();
      };
    } else if (config.storage) {
      this.#store = storageOf(settings, config.storage).stateStore('processor', settings.id);
    }
    this.#rules = config.rules.map((rule) => ({ rule, patterns: rule.metrics.map(globToRegExp) }));
    this.#projections = new Map(
      config.rules.map((rule) => [
        rule,
        rule.group_by
          ? new AttributeProjection(rule.group_by, true)
          : new AttributeProjection(rule.drop_attributes!, false),
      ]),
    );
  }

  /** Points dropped, by reason: histograms whose bounds differ, refusals downstream. */
  get dropped(): Record<string, number> {
    return this.#emitter.dropped;
  }

  async start(): Promise<void> {
    if (this.#store) await this.#restore(this.#store);
    this.#emitter.start();
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#journalTimer);
    clearImmediate(this.#earlyFlush);
    await this.#emitter.stop();
    // The last emit's snapshot (or one still being written when it came); in a partition's
    // chain, the emit that follows it, and the marker that it was delivered.
    while (this.#saving) {
      await this.#saving;
      // A partition's flush skipped while the snapshot was written again: once more, so a
      // partition given up leaves the next holder nothing this one could have emitted.
      const progress = this.#progress;
      if (progress?.unsaved && !progress.gone) this.flush();
    }
    await this.#emitter.settled();
    await this.#delivering;
    this.#progress?.close();
    await this.#store?.close();
  }

  async consume(batch: MetricBatch): Promise<void> {
    const ruleOf = batch.metrics.map((metric) =>
      metric.type === MetricType.Summary || metric.type === MetricType.Empty
        ? undefined
        : this.#ruleFor(metric.name),
    );
    if (!ruleOf.some((rule) => rule !== undefined)) return this.#next.consume(batch);
    if (this.#progress?.redelivered) {
      // Handed over again after a crash, but the restored snapshot holds it already (and
      // what passed through was passed on then).
      this.#emitter.count('redelivered', batch.pointCount);
      return;
    }
    const keys = new SeriesKeys(batch);
    this.#checkedAt = -1;
    const metricIds = ruleOf.map((rule, m) => (rule ? this.#metricId(batch, keys, m) : -1));
    const seriesInput = new Int32Array(batch.seriesCount).fill(-1);
    // Known inputs first, in a loop of lookups only: each one is a few dependent cache misses
    // into tables of every series seen, and with nothing else in the loop the processor can
    // have several lookups in flight. New inputs are made in the loop below.
    for (let s = 0; s < batch.seriesCount; s++) {
      const m = batch.seriesMetric(s);
      if (ruleOf[m])
        seriesInput[s] = this.#inputs.find(
          metricIds[m],
          batch.attributes,
          batch.seriesAttributes(s),
        );
    }
    const points = batch.points;
    const series = points.series;
    const view = new PointView(batch);
    const record = new PointRecord();
    const d = batch.distributions;
    record.counts = viewOf(d.bucketCounts.u32);
    record.bounds = viewOf(d.floats);
    const now = this.#clock();
    let matched = 0;
    for (let i = 0; i < batch.pointCount; i++) {
      const s = series[i];
      const m = batch.seriesMetric(s);
      const rule = ruleOf[m];
      if (!rule) continue;
      matched++;
      let input = seriesInput[s];
      if (input === -1) {
        input = this.#inputOf(batch, keys, rule, metricIds[m], s, i);
        seriesInput[s] = input;
      }
      const metric = batch.metrics[m];
      if (metric.type === MetricType.ExponentialHistogram) {
        const o = this.#touch(input, now);
        view.at(i);
        this.#outputs.widenTimes(o, readTimes(record, points, i));
        this.#outputs.addExponential(o, view, this.#exponentialChange(input, view));
      } else {
        readPoint(record, batch, metric.type, i);
        this.#merge(input, metric.type, metric.temporality, rule.gauge, record, now);
      }
    }
    if (matched > 0) this.#applied();
    if (matched === batch.pointCount) return;
    const copier = new BatchCopier();
    copier.append(batch, 0, batch.pointCount, {
      keep: (i) => !ruleOf[batch.seriesMetric(batch.points.series[i])],
    });
    await this.#next.consume(copier.target);
  }

  /** Starts a scanned request (see `MetricsRequestVisitor`). */
  beginScan(): void {
    this.#scanNow = this.#clock();
    this.#scanMetrics = [];
    this.#scannedCount = 0;
    this.#taken = 0;
    this.#checkedAt = -1;
  }

  visitMetric(metric: ScannedMetric): boolean {
    const rule = this.#ruleFor(metric.name);
    // A message the restored state holds goes the way of `consume`, which skips it.
    if (!rule || this.#progress?.redelivered) return false;
    if (
      metric.resourceAttributes !== this.#scanResourceAttributes ||
      metric.resourceSchemaUrl !== this.#scanResourceSchemaUrl
    ) {
      this.#scanResourceAttributes = metric.resourceAttributes;
      this.#scanResourceSchemaUrl = metric.resourceSchemaUrl;
      this.#scanResourceKey = resourceKey(metric.resourceAttributes, metric.resourceSchemaUrl);
    }
    const prefix = metricPrefix(
      this.#scanResourceKey,
      metric.scopeName,
      metric.scopeVersion,
      metric.name,
      metric.type,
    );
    const id = this.#metricIds.get(metricIdKey(prefix, metric.temporality, metric.unit));
    if (id === undefined) return false;
    this.#scanMetrics.push({
      metricId: id,
      type: metric.type,
      temporality: metric.temporality,
      gauge: rule.gauge,
    });
    return true;
  }

  checkPoint(point: PointRecord): boolean {
    // Senders repeat their series in the same order (an SDK walks its instruments the same
    // way every collection), and inputs are numbered in the order they were first seen: the
    // input after the previous point's is nearly always this point's, found with one compare
    // of memory read in order — no hash and no probe at a random place of the index.
    const slot = this.#scanMetrics.length - 1;
    const { metricId } = this.#scanMetrics[slot];
    const { set, setStart, setEnd } = point;
    const inputs = this.#inputs;
    let input = this.#predicted;
    if (!inputs.is(input, metricId, set, setStart, setEnd)) {
      input = inputs.findBytes(metricId, set, setStart, setEnd, hashRange(set, setStart, setEnd));
      if (input === -1) return false;
    }
    this.#predicted = input + 1;
    const k = this.#scannedCount++;
    if (k === this.#scanned.length) {
      this.#scanned = growInt32(this.#scanned, k * 2);
      this.#scannedMetric = growInt32(this.#scannedMetric, k * 2);
    }
    this.#scanned[k] = input;
    this.#scannedMetric[k] = slot;
    return true;
  }

  takePoint(point: PointRecord): void {
    if (this.#taken === 0) this.#applied();
    const k = this.#taken++;
    const { type, temporality, gauge } = this.#scanMetrics[this.#scannedMetric[k]];
    this.#merge(this.#scanned[k], type, temporality, gauge, point, this.#scanNow);
  }

  /** The projection of metric id `metric`'s rule, by its name (outputs exist only for described ids). */
  #projectionOf(metric: number): AttributeProjection | undefined {
    let projection = this.#projectionByMetric[metric];
    if (projection === undefined) {
      const rule = this.#ruleFor(this.#descriptors[metric].metric.name);
      projection = rule ? this.#projections.get(rule)! : null;
      this.#projectionByMetric[metric] = projection;
    }
    return projection ?? undefined;
  }

  #ruleFor(name: string): AggregateRule | undefined {
    let rule = this.#ruleByName.get(name);
    if (rule === undefined) {
      rule = this.#rules.find((r) => r.patterns.some((p) => p.test(name)))?.rule ?? null;
      // Names are few; past a bound (odd data) they are matched every time.
      if (this.#ruleByName.size < 10_000) this.#ruleByName.set(name, rule);
    }
    return rule ?? undefined;
  }

  /**
   * Marks input `input` seen at `now`; returns its output. (An output was last seen when
   * the latest of its inputs was: see `#outputsSeenAt`.)
   */
  #touch(input: number, now: number): number {
    this.#inputs.lastSeen[input] = now;
    return this.#inputs.output[input];
  }

  /** Merges a gauge, sum or explicit histogram point of input `input` into its output. */
  #merge(
    input: number,
    type: MetricType,
    temporality: Temporality,
    gauge: 'last' | 'mean',
    p: PointRecord,
    now: number,
  ): void {
    const o = this.#touch(input, now);
    const outputs = this.#outputs;
    switch (type) {
      case MetricType.Gauge:
        outputs.widenTimes(o, p);
        outputs.addGauge(o, p, gauge);
        break;
      case MetricType.Sum:
        outputs.widenTimes(o, p);
        outputs.value[o] += this.#sumChange(input, temporality, p);
        if (temporality === Temporality.Delta) this.#deltasSinceSnapshot++;
        break;
      case MetricType.Histogram:
        if (this.#addHistogram(o, input, temporality, p)) outputs.widenTimes(o, p);
        else this.#emitter.count('histogram_bounds_differ', 1);
        if (temporality === Temporality.Delta) this.#deltasSinceSnapshot++;
        break;
    }
  }

  #metricId(batch: MetricBatch, keys: SeriesKeys, m: number): number {
    const metric = batch.metrics[m];
    const key = metricIdKey(keys.metricPrefix(m), metric.temporality, metric.unit);
    let id = this.#metricIds.get(key);
    if (id === undefined) {
      id = this.#metricIds.size;
      this.#metricIds.set(key, id);
    }
    return id;
  }

  /** The input id of series `s` (first seen at point `i`), with its output, found or made. */
  #inputOf(
    batch: MetricBatch,
    keys: SeriesKeys,
    rule: AggregateRule,
    metricId: number,
    s: number,
    i: number,
  ): number {
    const set = batch.seriesAttributes(s);
    const found = this.#inputs.find(metricId, batch.attributes, set);
    if (found !== -1) return found;
    const bytes = batch.attributes.bytes(set);
    const reduced = this.#projections.get(rule)!.project(bytes);
    const hash = reduced === bytes ? batch.attributes.hash(set) : hashBytes(reduced);
    let output = this.#outputs.find(metricId, reduced, hash);
    if (output === -1) {
      this.#describe(metricId, batch, keys, batch.seriesMetric(s));
      // Its set is what the input made next projects to.
      const source = this.#inputs.count;
      output = this.#outputs.add(metricId, reduced, hash, source, batch.points, i);
    }
    return this.#inputs.add(metricId, output, batch.attributes, set);
  }

  /**
   * Records the resource, scope and metric the outputs of metric id `id` are emitted under
   * (once): copied from the batch that first had it, then shared by all of them.
   */
  #describe(id: number, batch: MetricBatch, keys: SeriesKeys, m: number): void {
    if (this.#descriptors[id]) return;
    const metric = batch.metrics[m];
    const scope = batch.scopes[metric.scope];
    this.#descriptors[id] = {
      resource: { ...batch.resources[scope.resource] },
      resourceKey: keys.resourceKey(scope.resource),
      scope: { ...scope },
      metric: { ...metric },
    };
  }

  /**
   * What a sum point adds: itself when delta; when cumulative, the change since the input's
   * previous point (all of it after a reset, nothing for a point not newer than that one).
   */
  #sumChange(input: number, temporality: Temporality, p: PointRecord): number {
    const value = p.value;
    if (temporality !== Temporality.Cumulative) return value;
    const t = this.#inputs;
    const hi = p.timeHi;
    const lo = p.timeLo;
    const hadPrevious = t.hasPrevious[input] === 1;
    if (hadPrevious && !before(t.previousHi[input], t.previousLo[input], hi, lo)) return 0;
    const previous = t.previousValue[input];
    t.hasPrevious[input] = 1;
    t.previousHi[input] = hi;
    t.previousLo[input] = lo;
    t.previousValue[input] = value;
    return !hadPrevious || value < previous ? value : value - previous;
  }

  /** Merges a histogram point bucket-wise; false (nothing merged) when its bounds differ. */
  #addHistogram(o: number, input: number, temporality: Temporality, p: PointRecord): boolean {
    const outputs = this.#outputs;
    const boundsLength = p.boundsLength;
    let layout = outputs.layout[o];
    if (layout === -1) {
      const bounds = new Float64Array(boundsLength);
      for (let k = 0; k < boundsLength; k++)
        bounds[k] = p.bounds.getFloat64(p.boundsAt + 8 * k, true);
      layout = outputs.setLayout(o, bounds);
    } else if (
      this.#checkedAt !== p.boundsAt ||
      this.#checkedView !== p.bounds ||
      this.#checkedLayout !== layout ||
      // An empty range starts where the next one does: the length tells them apart.
      outputs.bounds(layout).length !== boundsLength
    ) {
      if (!sameBounds(outputs.bounds(layout), p.bounds, p.boundsAt, boundsLength)) return false;
      this.#checkedAt = p.boundsAt;
      this.#checkedView = p.bounds;
      this.#checkedLayout = layout;
    }
    const count = p.count;
    const sum = p.bits & PointBits.HasSum ? p.sum : 0;
    const words = p.counts;
    const countsAt = p.countsAt;
    const n = Math.min(p.countsLength, boundsLength + 1);
    const counts = outputs.counts;
    const base = outputs.countsStart[o];
    if (temporality === Temporality.Cumulative) {
      const t = this.#inputs;
      const hi = p.timeHi;
      const lo = p.timeLo;
      const hadPrevious = t.hasPrevious[input] === 1;
      if (hadPrevious && !before(t.previousHi[input], t.previousLo[input], hi, lo)) return true;
      const sameLayout = t.countsLength[input] === n;
      const at = t.reserveCounts(input, n);
      const previous = t.counts;
      let reset = !hadPrevious || !sameLayout || count < t.previousValue[input];
      // Each count is read from the request once (two 32-bit reads), the reset found on the
      // way: this loop was a third of the aggregate's main thread when it read them twice.
      if (this.#countsRead.length < n) this.#countsRead = new Float64Array(2 * n);
      const read = this.#countsRead;
      for (let k = 0; k < n; k++) {
        const c = u64NumberAt(words, countsAt + 8 * k);
        read[k] = c;
        if (c < previous[at + k]) reset = true;
      }
      if (reset) {
        for (let k = 0; k < n; k++) {
          counts[base + k] += read[k];
          previous[at + k] = read[k];
        }
      } else {
        for (let k = 0; k < n; k++) {
          counts[base + k] += read[k] - previous[at + k];
          previous[at + k] = read[k];
        }
      }
      outputs.value[o] += reset ? count : count - t.previousValue[input];
      outputs.sum[o] += reset ? sum : sum - t.previousSum[input];
      t.hasPrevious[input] = 1;
      t.previousHi[input] = hi;
      t.previousLo[input] = lo;
      t.previousValue[input] = count;
      t.previousSum[input] = sum;
    } else {
      for (let k = 0; k < n; k++) counts[base + k] += u64NumberAt(words, countsAt + 8 * k);
      outputs.value[o] += count;
      outputs.sum[o] += sum;
    }
    if (p.bits & PointBits.HasMin) outputs.min[o] = Math.min(outputs.min[o], p.min);
    if (p.bits & PointBits.HasMax) outputs.max[o] = Math.max(outputs.max[o], p.max);
    return true;
  }

  #exponentialChange(input: number, view: PointView): ExponentialContribution {
    const current: ExponentialState = {
      time: view.time,
      count: Number(view.count),
      sum: view.sum ?? 0,
      scale: view.scale,
      positive: bucketMap(view.positive),
      negative: bucketMap(view.negative),
      zeroCount: Number(view.zeroCount),
    };
    if (view.metric.temporality !== Temporality.Cumulative) return current;
    const previous = this.#exponentialInputs.get(input);
    if (previous && previous.time >= current.time) return { count: 0, sum: 0, zeroCount: 0 };
    this.#exponentialInputs.set(input, current);
    if (!previous || current.count < previous.count || current.scale !== previous.scale) {
      return current;
    }
    return {
      count: current.count - previous.count,
      sum: current.sum - previous.sum,
      positive: bucketsSince(current.positive, previous.positive),
      negative: bucketsSince(current.negative, previous.negative),
      zeroCount: current.zeroCount - previous.zeroCount,
    };
  }

  /**
   * Emits every output series updated since the last flush, then forgets stale series; with
   * storage, snapshots the state once the emit was accepted downstream.
   */
  flush(now = this.#clock()): void {
    if (this.#progress) {
      this.#flushPartition(this.#progress, now);
      return;
    }
    const batch = buildOutputBatch(this.#outputs, this.#descriptors);
    const saved = this.#store && (() => void this.#saveState());
    if (batch.pointCount > 0) this.#emitter.emit([batch], saved);
    this.#expire(now);
    if (batch.pointCount === 0) saved?.();
  }

  /** In a partition's chain: notes that the message handed over now was merged. */
  #applied(): void {
    if (!this.#progress) return;
    this.#progress.applied();
    this.#flushIfPressed(this.#progress);
  }

  /**
   * Flushes (emits and snapshots) before the interval is over when the source holds half the
   * messages it hands over at most: they are acknowledged only once a snapshot holds them.
   */
  #flushIfPressed(progress: PartitionProgress): void {
    if (!progress.pressed || progress.gone || this.#saving || this.#earlyFlush) return;
    this.#earlyFlush = setImmediate(() => {
      this.#earlyFlush = undefined;
      this.flush();
    });
  }

  /**
   * A partition's flush snapshots first, the outputs about to be emitted in it: once the
   * snapshot is stored the source forgets the messages merged into them, so the emit must be
   * possible again from the snapshot. After the emit was delivered (sent, where the exporters
   * can say so), a marker says so; a member that restores a snapshot without the marker emits
   * its outputs again — the same points, times and values, at worst twice, never an interval
   * merged into the next and counted twice.
   */
  #flushPartition(progress: PartitionProgress, now: number): void {
    // A snapshot still being written (tried again while the state stream is away): its emit
    // waits for it, and this interval's outputs go on gathering until the next flush.
    if (this.#saving) return;
    // Nothing new since the last snapshot: restoring it emits what this emit would (the same
    // outputs, times and values), so it needs no snapshot of its own.
    const stored = progress.unsaved
      ? progress.save(this.#encodeState(), (err, attempt) => this.#snapshotFailed(err, attempt))
      : undefined;
    const batch = buildOutputBatch(this.#outputs, this.#descriptors);
    this.#expire(now);
    if (!stored) {
      if (batch.pointCount > 0) this.#emitter.emit([batch]);
      return;
    }
    const saving = stored
      .then((number) => {
        if (batch.pointCount > 0) this.#emitDelivered(progress, batch, number);
      })
      .catch((err: Error) => {
        if (partitionGoneQuietly(progress, err)) return;
        this.#logger.warn(
          { processor: this.id, error: err.message },
          'aggregate: partition state snapshot refused; its messages stay unacknowledged and are handed out to the next holder',
        );
      })
      .finally(() => {
        if (this.#saving === saving) this.#saving = undefined;
      });
    this.#saving = saving;
  }

  /** A partition snapshot's write failed and is tried again: said once per snapshot. */
  #snapshotFailed(err: Error, attempt: number): void {
    if (attempt > 1) return;
    this.#logger.warn(
      { processor: this.id, error: err.message },
      'aggregate: partition state snapshot failed; writing it again (its outputs are emitted, and its messages acknowledged, once it is stored)',
    );
  }

  /** Emits `batch`, made from snapshot `number`; once delivered, marks the snapshot so. */
  #emitDelivered(progress: PartitionProgress, batch: MetricBatch, number: number): void {
    this.#emitter.emit([batch], () => {
      this.#delivering = (async () => {
        await this.#next.settled?.();
        await progress.delivered(number);
      })().catch((err: Error) =>
        this.#logger.warn(
          { processor: this.id, error: err.message },
          'aggregate: could not mark an emit delivered; a member restoring this state emits it again',
        ),
      );
    });
  }

  /** Loads the last snapshot and counts what the crash lost since (delta points). */
  async #restore(store: StateStore): Promise<void> {
    const stored = await store.load();
    this.unreadableState += noteUnreadable(this.#logger, this.id, stored);
    if (stored.snapshot) {
      const state = decodeAggregateState(stored.snapshot);
      for (const [key, id] of state.metricIds) this.#metricIds.set(key, id);
      for (const [id, descriptor] of state.descriptors) this.#descriptors[id] = descriptor;
      this.#outputs = OutputSeriesTable.fromSnapshot(state.outputs, this.#kind, this.#projectInput);
      this.#inputs = InputSeriesTable.fromColumns(state.inputs);
      this.#outputs.relink(this.#inputs.output, this.#inputs.count);
      this.#exponentialInputs = new Map(state.exponential);
      if (this.#progress) this.#emitRestored(this.#progress);
    }
    const last = stored.entries.at(-1);
    const lost = last ? Buffer.from(last).readDoubleLE(0) : 0;
    if (lost > 0) this.#emitter.count('lost_on_restart', lost);
    this.#logger.info(
      { processor: this.id, ...this.series, lostDeltaPoints: lost, corrupt: stored.corrupt },
      'aggregate: state restored from storage',
    );
    // A partition's messages stay in the source until a snapshot holds them: no delta is
    // lost, and nothing needs journaling.
    if (this.#progress) return;
    this.#journalTimer = setInterval(() => this.#journalDeltas(store), 1000);
    this.#journalTimer.unref();
  }

  /**
   * A partition's snapshot holds the outputs of the emit it was taken for: emitted again unless
   * marked delivered, and reset either way.
   */
  #emitRestored(progress: PartitionProgress): void {
    const batch = buildOutputBatch(this.#outputs, this.#descriptors);
    if (!progress.restoredUndelivered || batch.pointCount === 0) return;
    this.#logger.info(
      { processor: this.id, points: batch.pointCount },
      'aggregate: emitting again the outputs of the restored snapshot (not marked delivered)',
    );
    this.#emitDelivered(progress, batch, progress.snapshotNumber);
  }

  /** Journals how many delta points a crash now would lose (when that changed). */
  #journalDeltas(store: StateStore): void {
    if (this.#deltasSinceSnapshot === this.#deltasJournaled) return;
    this.#deltasJournaled = this.#deltasSinceSnapshot;
    const entry = Buffer.alloc(8);
    entry.writeDoubleLE(this.#deltasSinceSnapshot);
    store.append(entry).catch(() => {});
  }

  /** Snapshots the state to `storage`, unless a snapshot is being written. */
  #saveState(): Promise<void> {
    if (this.#saving) return this.#saving;
    this.#saving = this.#writeSnapshot().finally(() => {
      this.#saving = undefined;
    });
    return this.#saving;
  }

  async #writeSnapshot(): Promise<void> {
    const store = this.#store!;
    const through = store.lastSeq;
    const state = this.#encodeState();
    this.#deltasSinceSnapshot = 0;
    this.#deltasJournaled = 0;
    await store
      .snapshot(state, through)
      .catch((err: Error) =>
        this.#logger.warn(
          { processor: this.id, error: err.message },
          'aggregate: state snapshot failed; a restart starts from the previous one',
        ),
      );
  }

  #encodeState(): Uint8Array[] {
    return encodeAggregateState({
      version: 1,
      metricIds: [...this.#metricIds],
      descriptors: this.#descriptors.flatMap((d, id) =>
        d ? [[id, d] as [number, OutputDescriptor]] : [],
      ),
      outputs: this.#outputs.snapshot(this.#kind, this.#outputsSeenAt()),
      // Copied: the snapshot is written later, while merges go on changing the table.
      inputs: this.#inputs.copyColumns(),
      exponential: [...this.#exponentialInputs],
    });
  }

  /**
   * When each output was last seen: the latest of its inputs (kept here, not per output:
   * one column less in memory, and one store less per point).
   */
  #outputsSeenAt(): Float64Array {
    const seenAt = new Float64Array(this.#outputs.count).fill(Number.NEGATIVE_INFINITY);
    const { lastSeen, output } = this.#inputs;
    for (let id = 0; id < this.#inputs.count; id++) {
      const o = output[id];
      if (lastSeen[id] > seenAt[o]) seenAt[o] = lastSeen[id];
    }
    return seenAt;
  }

  /** Input and output series currently remembered. */
  get series(): { inputs: number; outputs: number } {
    return { inputs: this.#inputs.count, outputs: this.#outputs.count };
  }

  /**
   * Forgets inputs silent for `max_stale` and outputs none of whose inputs spoke for that
   * long (after they were emitted: nothing accumulated is lost), once a tenth of either is
   * stale. An input that comes back later starts over, as a new series does: its first
   * cumulative point counts whole.
   */
  #expire(now: number): void {
    const cutoff = now - this.#maxStaleMs;
    const inputs = this.#inputs;
    let staleInputs = 0;
    for (let id = 0; id < inputs.count; id++) if (inputs.lastSeen[id] < cutoff) staleInputs++;
    const outputs = this.#outputs;
    const seenAt = this.#outputsSeenAt();
    let staleOutputs = 0;
    for (let o = 0; o < outputs.count; o++) if (seenAt[o] < cutoff) staleOutputs++;
    // Renumbering rebuilds the tables: wait until a tenth of them is stale.
    if (staleInputs * 10 < inputs.count && staleOutputs * 10 < outputs.count) return;
    const renumbered = outputs.compact((o) => seenAt[o] >= cutoff);
    const moved = inputs.compact(
      (id) => inputs.lastSeen[id] >= cutoff && renumbered[inputs.output[id]] !== -1,
      (id) => renumbered[inputs.output[id]],
    );
    // Every output kept has an input kept: its time is its latest input's, so that input is
    // fresh too. Its set is read from one of them again.
    outputs.relink(inputs.output, inputs.count);
    const exponential = new Map<number, ExponentialState>();
    for (const [id, state] of this.#exponentialInputs) {
      if (moved[id] !== -1) exponential.set(moved[id], state);
    }
    this.#exponentialInputs = exponential;
    this.#logger.debug(
      { inputs: staleInputs, outputs: staleOutputs, maxStaleMs: this.#maxStaleMs },
      'forgot stale series',
    );
  }
}

/**
 * The key of a metric identity in `#metricIds`: resource, scope, name and type (`prefix`,
 * from `metricPrefix`), temporality and unit — the same from a batch and from a scan.
 */
function metricIdKey(prefix: string, temporality: Temporality, unit: string): string {
  return `${prefix}${temporality}\u0001${unit}`;
}

/** A view of all of a typed array's bytes. */
function viewOf(array: Uint32Array | Float64Array): DataView {
  return new DataView(array.buffer, array.byteOffset, array.byteLength);
}

/** Point `i`'s start time and time into `p`. */
function readTimes(p: PointRecord, points: PointColumns, i: number): PointRecord {
  const start = points.startTime.u32;
  const time = points.time.u32;
  p.startHi = start[2 * i + 1];
  p.startLo = start[2 * i];
  p.timeHi = time[2 * i + 1];
  p.timeLo = time[2 * i];
  return p;
}

/** Point `i` of `batch` (a gauge, sum or explicit histogram) into `p`. */
function readPoint(p: PointRecord, batch: MetricBatch, type: MetricType, i: number): void {
  const points = batch.points;
  readTimes(p, points, i);
  const bits = points.bits[i];
  p.bits = bits;
  if (type !== MetricType.Histogram) {
    // A number point's value as a double (int64 through its halves, no bigint).
    p.value =
      bits & PointBits.Int
        ? (points.value.u32[2 * i + 1] | 0) * TWO_32 + points.value.u32[2 * i]
        : points.value.f64[i];
    return;
  }
  const d = batch.distributions;
  const row = points.detail[i];
  p.count = u64Number(d.total.u32, row);
  p.sum = points.value.f64[i];
  p.min = d.min[row];
  p.max = d.max[row];
  p.countsAt = 8 * d.positiveStart[row];
  p.countsLength = d.positiveLength[row];
  p.boundsAt = 8 * d.boundsStart[row];
  p.boundsLength = d.boundsLength[row];
}

function sameBounds(bounds: Float64Array, floats: DataView, at: number, length: number): boolean {
  if (bounds.length !== length) return false;
  for (let k = 0; k < length; k++)
    if (bounds[k] !== floats.getFloat64(at + 8 * k, true)) return false;
  return true;
}
