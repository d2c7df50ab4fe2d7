import fc from 'fast-check';

/**
 * Random `ExportMetricsServiceRequest`s in the object form protobufjs' `fromObject` takes:
 * every field kind OTLP metrics has, with edge values (int64 extremes, NaN, ±Infinity, -0,
 * multi-byte UTF-8, nested AnyValues, empty and absent optional fields).
 */
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
const uint64 = fc
  .oneof(
    fc.constant(0n),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.bigInt({ min: 0n, max: 1000n }),
  )
  .map(String);
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const int32 = fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const double = fc.oneof(fc.constant(0), fc.double());
const optionalDouble = fc.option(double, { nil: undefined });

const { anyValue, keyValue } = fc.letrec((tie) => ({
  anyValue: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.record({ stringValue: text }),
    fc.record({ boolValue: fc.boolean() }),
    fc.record({ intValue: int64 }),
    fc.record({ doubleValue: double }),
    fc.record({ bytesValue: fc.uint8Array({ maxLength: 6 }) }),
    fc.record({ arrayValue: fc.record({ values: fc.array(tie('anyValue'), { maxLength: 3 }) }) }),
    fc.record({ kvlistValue: fc.record({ values: fc.array(tie('keyValue'), { maxLength: 3 }) }) }),
    fc.constant({}),
  ),
  keyValue: fc.record({ key: text, value: tie('anyValue') }),
}));

export const attributes = fc.array(keyValue, { maxLength: 4 });
export { anyValue, keyValue };

const exemplar = fc
  .record({
    filteredAttributes: attributes,
    timeUnixNano: uint64,
    value: fc.oneof(fc.record({ asDouble: double }), fc.record({ asInt: int64 }), fc.constant({})),
    spanId: fc.oneof(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.constant(new Uint8Array(0))),
    traceId: fc.oneof(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.constant(new Uint8Array(0)),
    ),
  })
  .map(({ value, ...rest }) => ({ ...rest, ...value }));
const exemplars = fc.array(exemplar, { maxLength: 2 });

const common = {
  attributes,
  startTimeUnixNano: uint64,
  timeUnixNano: uint64,
  flags: fc.oneof(fc.constant(0), fc.constant(1), uint32),
};

const numberPoint = fc
  .record({
    ...common,
    exemplars,
    value: fc.oneof(fc.record({ asDouble: double }), fc.record({ asInt: int64 }), fc.constant({})),
  })
  .map(({ value, ...rest }) => ({ ...rest, ...value }));

const histogramPoint = fc.record({
  ...common,
  exemplars,
  count: uint64,
  sum: optionalDouble,
  bucketCounts: fc.array(uint64, { maxLength: 6 }),
  explicitBounds: fc.array(double, { maxLength: 5 }),
  min: optionalDouble,
  max: optionalDouble,
});

const buckets = fc.option(
  fc.record({ offset: int32, bucketCounts: fc.array(uint64, { maxLength: 6 }) }),
  { nil: undefined },
);

const exponentialPoint = fc.record({
  ...common,
  exemplars,
  count: uint64,
  sum: optionalDouble,
  scale: int32,
  zeroCount: uint64,
  positive: buckets,
  negative: buckets,
  min: optionalDouble,
  max: optionalDouble,
  zeroThreshold: double,
});

const summaryPoint = fc.record({
  ...common,
  count: uint64,
  sum: double,
  quantileValues: fc.array(fc.record({ quantile: double, value: double }), { maxLength: 4 }),
});

const temporality = fc.constantFrom(0, 1, 2);
const points = <T>(point: fc.Arbitrary<T>) => fc.array(point, { maxLength: 4 });

const metricData = fc.oneof(
  fc.record({ gauge: fc.record({ dataPoints: points(numberPoint) }) }),
  fc.record({
    sum: fc.record({
      dataPoints: points(numberPoint),
      aggregationTemporality: temporality,
      isMonotonic: fc.boolean(),
    }),
  }),
  fc.record({
    histogram: fc.record({
      dataPoints: points(histogramPoint),
      aggregationTemporality: temporality,
    }),
  }),
  fc.record({
    exponentialHistogram: fc.record({
      dataPoints: points(exponentialPoint),
      aggregationTemporality: temporality,
    }),
  }),
  fc.record({ summary: fc.record({ dataPoints: points(summaryPoint) }) }),
  fc.constant({}),
);

const metric = fc
  .record({
    name: text,
    description: text,
    unit: text,
    metadata: fc.array(keyValue, { maxLength: 2 }),
    data: metricData,
  })
  .map(({ data, ...rest }) => ({ ...rest, ...data }));

const scopeMetrics = fc.record({
  scope: fc.record({ name: text, version: text, attributes, droppedAttributesCount: uint32 }),
  metrics: fc.array(metric, { maxLength: 4 }),
  schemaUrl: text,
});

const resourceMetrics = fc.record({
  resource: fc.record({ attributes, droppedAttributesCount: uint32 }),
  scopeMetrics: fc.array(scopeMetrics, { maxLength: 3 }),
  schemaUrl: text,
});

export const metricsRequest = fc.record({
  resourceMetrics: fc.array(resourceMetrics, { maxLength: 3 }),
});
