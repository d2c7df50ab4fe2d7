import { deserialize, serialize } from 'node:v8';
import { type AnyValue, type KeyValue, KeyValueList } from '../../model/any-value.js';
import type { MetricDescriptor, Resource, Scope } from '../../model/types.js';
import type { ExponentialContribution, OutputSeries } from './accumulator.js';
import type { InputColumns } from './input-series.js';

/** The resource, scope and metric of the outputs of one metric id. */
export interface OutputDescriptor {
  resource: Resource;
  resourceKey: string;
  scope: Scope;
  metric: MetricDescriptor;
}

/** The previous point of a cumulative exponential histogram input (rare: kept in objects). */
export interface ExponentialState extends ExponentialContribution {
  time: bigint;
  scale: number;
}

/** How many number fields an output has (see `writeNumbers`). */
const WIDTH = 20;

/** An output's number fields into `row` of `numbers` (written out: keyed access was slow). */
function writeNumbers(out: OutputSeries, numbers: Float64Array, row: number): void {
  numbers[row + 0] = out.metricId;
  numbers[row + 1] = out.attributeHash;
  numbers[row + 2] = out.seenAt;
  numbers[row + 3] = out.startHi;
  numbers[row + 4] = out.startLo;
  numbers[row + 5] = out.timeHi;
  numbers[row + 6] = out.timeLo;
  numbers[row + 7] = out.value;
  numbers[row + 8] = out.last;
  numbers[row + 9] = out.lastHi;
  numbers[row + 10] = out.lastLo;
  numbers[row + 11] = out.sum;
  numbers[row + 12] = out.samples;
  numbers[row + 13] = out.count;
  numbers[row + 14] = out.histogramSum;
  numbers[row + 15] = out.min;
  numbers[row + 16] = out.max;
  numbers[row + 17] = out.scale;
  numbers[row + 18] = out.zeroCount;
  numbers[row + 19] = out.zeroThreshold;
}

function readNumbers(out: OutputSeries, numbers: Float64Array, row: number): void {
  out.metricId = numbers[row + 0];
  out.attributeHash = numbers[row + 1];
  out.seenAt = numbers[row + 2];
  out.startHi = numbers[row + 3];
  out.startLo = numbers[row + 4];
  out.timeHi = numbers[row + 5];
  out.timeLo = numbers[row + 6];
  out.value = numbers[row + 7];
  out.last = numbers[row + 8];
  out.lastHi = numbers[row + 9];
  out.lastLo = numbers[row + 10];
  out.sum = numbers[row + 11];
  out.samples = numbers[row + 12];
  out.count = numbers[row + 13];
  out.histogramSum = numbers[row + 14];
  out.min = numbers[row + 15];
  out.max = numbers[row + 16];
  out.scale = numbers[row + 17];
  out.zeroCount = numbers[row + 18];
  out.zeroThreshold = numbers[row + 19];
}

/**
 * The outputs in columns: a row of numbers each, their attribute sets end to end, histogram
 * bounds as an index into the distinct layouts, counts end to end. Objects through the
 * structured serializer took ~250 ms for 50,000 outputs — a stall of the event loop at every
 * snapshot; columns are a few copies of typed arrays.
 */
export interface OutputColumns {
  count: number;
  numbers: Float64Array;
  updated: Uint8Array;
  attributes: Uint8Array;
  attributesEnd: Uint32Array;
  layouts: Float64Array[];
  /** Per output: its layout (-1: not a histogram yet), and its counts in `counts`. */
  layout: Int32Array;
  countsEnd: Uint32Array;
  counts: Float64Array;
  /** Exponential histograms' buckets: [output, positive, negative]. */
  exponential: [number, Map<number, number> | undefined, Map<number, number> | undefined][];
}

export function outputColumns(outputs: readonly OutputSeries[]): OutputColumns {
  const n = outputs.length;
  const numbers = new Float64Array(n * WIDTH);
  const updated = new Uint8Array(n);
  const attributesEnd = new Uint32Array(n);
  const layout = new Int32Array(n).fill(-1);
  const countsEnd = new Uint32Array(n);
  const layouts: Float64Array[] = [];
  const layoutOf = new Map<Float64Array, number>();
  const exponential: OutputColumns['exponential'] = [];
  let attributeBytes = 0;
  let countValues = 0;
  for (const out of outputs) {
    attributeBytes += out.attributeBytes.length;
    countValues += out.counts?.length ?? 0;
  }
  const attributes = new Uint8Array(attributeBytes);
  const counts = new Float64Array(countValues);
  let a = 0;
  let c = 0;
  for (let k = 0; k < n; k++) {
    const out = outputs[k];
    writeNumbers(out, numbers, k * WIDTH);
    updated[k] = out.updated ? 1 : 0;
    // Sets are a few dozen bytes: a loop beats `set` (a call each) by far at this size.
    const set = out.attributeBytes;
    for (let b = 0; b < set.length; b++) attributes[a + b] = set[b];
    a += set.length;
    attributesEnd[k] = a;
    if (out.bounds && out.counts) {
      let id = layoutOf.get(out.bounds);
      if (id === undefined) {
        id = layouts.push(out.bounds) - 1;
        layoutOf.set(out.bounds, id);
      }
      layout[k] = id;
      counts.set(out.counts, c);
      c += out.counts.length;
    }
    countsEnd[k] = c;
    if (out.positive || out.negative) exponential.push([k, out.positive, out.negative]);
  }
  return {
    count: n,
    numbers,
    updated,
    attributes,
    attributesEnd,
    layouts,
    layout,
    countsEnd,
    counts,
    exponential,
  };
}

/**
 * The outputs of `columns` again; `descriptor(metricId)` gives their resource, scope and
 * metric, `key(metricId, attributeBytes)` their index key, `layout` a shared bounds array.
 */
export function outputsFromColumns(
  columns: OutputColumns,
  descriptor: (metricId: number) => OutputDescriptor,
  key: (metricId: number, attributeBytes: Uint8Array) => string,
  layout: (bounds: Float64Array) => Float64Array,
): OutputSeries[] {
  const outputs: OutputSeries[] = [];
  const exponential = new Map(
    columns.exponential.map(([k, positive, negative]) => [k, { positive, negative }]),
  );
  for (let k = 0; k < columns.count; k++) {
    const row = k * WIDTH;
    const metricId = columns.numbers[row];
    const d = descriptor(metricId);
    const attributeBytes = columns.attributes.slice(
      k > 0 ? columns.attributesEnd[k - 1] : 0,
      columns.attributesEnd[k],
    );
    const out = {
      resource: d.resource,
      resourceKey: d.resourceKey,
      scope: d.scope,
      metric: d.metric,
      key: key(metricId, attributeBytes),
      attributeBytes,
      updated: columns.updated[k] === 1,
      bounds: undefined as Float64Array | undefined,
      counts: undefined as Float64Array | undefined,
      positive: exponential.get(k)?.positive,
      negative: exponential.get(k)?.negative,
    } as OutputSeries;
    readNumbers(out, columns.numbers, row);
    if (columns.layout[k] >= 0) {
      out.bounds = layout(columns.layouts[columns.layout[k]]);
      out.counts = columns.counts.slice(k > 0 ? columns.countsEnd[k - 1] : 0, columns.countsEnd[k]);
    }
    outputs.push(out);
  }
  return outputs;
}

/**
 * Everything the aggregate processor needs to go on where it stopped: metric identities and
 * descriptors, every output's accumulators, every input's previous point.
 */
export interface AggregateState {
  version: 1;
  metricIds: [string, number][];
  descriptors: [number, OutputDescriptor][];
  outputs: OutputColumns;
  inputs: InputColumns;
  exponential: [number, ExponentialState][];
}

type TypedArray = Uint8Array | Int32Array | Uint32Array | Float64Array;
type TypedArrayOf = new (buffer: ArrayBuffer) => TypedArray;

/** The big columns, stored as raw sections (in this order, of these types). */
const OUTPUT_SECTIONS: [keyof OutputColumns, TypedArrayOf][] = [
  ['numbers', Float64Array],
  ['updated', Uint8Array],
  ['attributes', Uint8Array],
  ['attributesEnd', Uint32Array],
  ['layout', Int32Array],
  ['countsEnd', Uint32Array],
  ['counts', Float64Array],
];
const INPUT_SECTIONS: [keyof InputColumns, TypedArrayOf][] = [
  ['arena', Uint8Array],
  ['metric', Int32Array],
  ['setStart', Uint32Array],
  ['setEnd', Uint32Array],
  ['setHash', Int32Array],
  ['output', Int32Array],
  ['lastSeen', Float64Array],
  ['hasPrevious', Uint8Array],
  ['previousHi', Uint32Array],
  ['previousLo', Uint32Array],
  ['previousValue', Float64Array],
  ['previousSum', Float64Array],
  ['countsStart', Int32Array],
  ['countsLength', Int32Array],
  ['counts', Float64Array],
];

/**
 * The state as bytes (in parts, to be written one after the other): the columns as raw sections (8-byte aligned), everything else — metric
 * identities, descriptors with their attribute values, bounds layouts, exponential buckets —
 * through V8's structured serialization, which keeps maps, bigints, byte arrays and NaN/-0
 * as they are. (The whole state through the serializer took ~55 ms for 100,000 inputs: it
 * copies typed arrays in JavaScript; sections are one copy each.)
 *
 * ```
 * u32 sections, u32 length of each; then each section, padded to 8 bytes:
 * the serialized rest, then OUTPUT_SECTIONS, then INPUT_SECTIONS
 * ```
 */
export function encodeAggregateState(state: AggregateState): Uint8Array[] {
  const rest = {
    version: state.version,
    metricIds: state.metricIds,
    descriptors: state.descriptors,
    exponential: state.exponential,
    outputs: {
      count: state.outputs.count,
      layouts: state.outputs.layouts,
      exponential: state.outputs.exponential,
    },
    inputs: { count: state.inputs.count },
  };
  const sections: Uint8Array[] = [
    serialize(rest),
    ...OUTPUT_SECTIONS.map(([name]) => bytesOf(state.outputs[name] as TypedArray)),
    ...INPUT_SECTIONS.map(([name]) => bytesOf(state.inputs[name] as TypedArray)),
  ];
  // Returned as parts, written as they are: no copy of the columns into one buffer.
  const head = new Uint8Array(align(4 + 4 * sections.length));
  const view = new DataView(head.buffer);
  view.setUint32(0, sections.length, true);
  const parts: Uint8Array[] = [head];
  sections.forEach((section, k) => {
    view.setUint32(4 + 4 * k, section.length, true);
    parts.push(section);
    const padding = align(section.length) - section.length;
    if (padding > 0) parts.push(new Uint8Array(padding));
  });
  return parts;
}

export function decodeAggregateState(bytes: Uint8Array): AggregateState {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  if (count !== 1 + OUTPUT_SECTIONS.length + INPUT_SECTIONS.length) {
    throw new TypeError(`not an aggregate state: ${count} sections`);
  }
  const sections: Uint8Array[] = [];
  let at = align(4 + 4 * count);
  for (let k = 0; k < count; k++) {
    const length = view.getUint32(4 + 4 * k, true);
    if (at + length > bytes.length) throw new TypeError('aggregate state cut short');
    sections.push(bytes.subarray(at, at + length));
    at += align(length);
  }
  const rest = deserialize(sections[0]);
  if (rest?.version !== 1) throw new TypeError('not an aggregate state of version 1');
  const outputs = { ...rest.outputs } as OutputColumns;
  OUTPUT_SECTIONS.forEach(([name, Type], k) => {
    (outputs as unknown as Record<string, TypedArray>)[name] = copyAs(Type, sections[1 + k]);
  });
  const inputs = { ...rest.inputs } as InputColumns;
  INPUT_SECTIONS.forEach(([name, Type], k) => {
    (inputs as unknown as Record<string, TypedArray>)[name] = copyAs(
      Type,
      sections[1 + OUTPUT_SECTIONS.length + k],
    );
  });
  const descriptors = rest.descriptors as [number, OutputDescriptor][];
  // Class instances come back as plain objects: attribute values that were `KeyValueList`s
  // are made so again.
  for (const [, d] of descriptors) {
    d.resource.attributes = d.resource.attributes.map(reviveKeyValue);
    d.scope.attributes = d.scope.attributes.map(reviveKeyValue);
  }
  return {
    version: 1,
    metricIds: rest.metricIds,
    descriptors,
    exponential: rest.exponential,
    outputs,
    inputs,
  };
}

function bytesOf(array: TypedArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** A section as a typed array of its own (copied: sections need not be aligned in memory). */
function copyAs(Type: TypedArrayOf, section: Uint8Array): TypedArray {
  const buffer = new ArrayBuffer(section.length);
  new Uint8Array(buffer).set(section);
  return new Type(buffer);
}

function align(n: number): number {
  return (n + 7) & ~7;
}

function reviveKeyValue(kv: KeyValue): KeyValue {
  return { key: kv.key, value: revive(kv.value) };
}

function revive(value: AnyValue): AnyValue {
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return new KeyValueList((value as { values: KeyValue[] }).values.map(reviveKeyValue));
  }
  return value;
}
