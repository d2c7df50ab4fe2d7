import { deserialize, serialize } from 'node:v8';
import { type AnyValue, type KeyValue, KeyValueList } from '../../model/any-value.js';
import type { MetricDescriptor, Resource, Scope } from '../../model/types.js';
import type { ExponentialContribution } from './exponential.js';
import type { InputColumns } from './input-series.js';
import type { OutputColumns } from './output-series.js';

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
