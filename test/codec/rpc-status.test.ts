import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { encodeRetryInfoStatus, retryDelayMs } from '../../src/codec/protobuf/rpc-status.js';

/** The messages as protobufjs builds them from their definitions: the independent reference. */
const root = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            RetryInfo: { fields: { retryDelay: { type: 'google.protobuf.Duration', id: 1 } } },
          },
        },
        protobuf: {
          nested: {
            Any: {
              fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } },
            },
            Duration: {
              fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } },
            },
          },
        },
      },
    },
  },
});
const Status = root.lookupType('google.rpc.Status');
const RetryInfo = root.lookupType('google.rpc.RetryInfo');

describe('google.rpc.Status with RetryInfo', () => {
  it('writes what protobufjs reads, and reads what protobufjs writes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        (code, seconds, nanos) => {
          const written = Status.toObject(Status.decode(encodeRetryInfoStatus(code, seconds)), {
            longs: Number,
          });
          expect(written.code ?? 0).toBe(code);
          expect(written.details[0].type_url).toBe('type.googleapis.com/google.rpc.RetryInfo');
          expect(
            RetryInfo.toObject(RetryInfo.decode(written.details[0].value), { longs: Number }),
          ).toEqual({ retryDelay: { seconds } });

          const theirs = Status.encode({
            code,
            message: 'slow down',
            details: [
              { type_url: 'type.googleapis.com/other', value: new Uint8Array([8, 1]) },
              {
                type_url: 'type.googleapis.com/google.rpc.RetryInfo',
                value: RetryInfo.encode({ retryDelay: { seconds, nanos } }).finish(),
              },
            ],
          }).finish();
          expect(retryDelayMs(theirs)).toBe(seconds * 1000 + Math.round(nanos / 1e6));
        },
      ),
    );
  });

  it('finds no delay in a status without one, or in bytes that are not a status', () => {
    expect(retryDelayMs(Status.encode({ code: 8, message: 'full' }).finish())).toBeUndefined();
    expect(retryDelayMs(new Uint8Array([0x1a, 0x7f, 0x0a]))).toBeUndefined();
  });
});
