import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Http2Error } from '../../src/net/http2/frames.js';
import { encodeFields, type FieldList, HpackDecoder } from '../../src/net/http2/hpack.js';
import { huffmanDecode } from '../../src/net/http2/huffman.js';
import { HpackWriter, huffmanEncode } from '../helpers/h2-wire.js';

// HPACK as sluice's HTTP/2 server decodes it. The RFC's own examples are the reference here;
// nghttp2's encoder is the other one (`h2-connection.test.ts` sends its Huffman-coded values,
// and the differential fuzz test sends blocks node:http2 must read the same).

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function decodeAll(decoder: HpackDecoder, block: Buffer, max = 1 << 20): [string, string][] {
  const fields: FieldList = [];
  decoder.decode(block, 0, block.length, fields, max);
  const pairs: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) pairs.push([fields[i], fields[i + 1]]);
  return pairs;
}

const FIRST: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const SECOND: [string, string][] = [...FIRST, ['cache-control', 'no-cache']];
const THIRD: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];

describe('HpackDecoder', () => {
  it('decodes RFC 7541 C.3, three requests without Huffman coding, on one table', () => {
    const decoder = new HpackDecoder();
    expect(decodeAll(decoder, hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'))).toEqual(
      FIRST,
    );
    expect(decodeAll(decoder, hex('8286 84be 5808 6e6f 2d63 6163 6865'))).toEqual(SECOND);
    expect(
      decodeAll(
        decoder,
        hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'),
      ),
    ).toEqual(THIRD);
  });

  it('decodes RFC 7541 C.4, the same requests Huffman-coded', () => {
    const decoder = new HpackDecoder();
    expect(decodeAll(decoder, hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))).toEqual(FIRST);
    expect(decodeAll(decoder, hex('8286 84be 5886 a8eb 1064 9cbf'))).toEqual(SECOND);
    expect(
      decodeAll(decoder, hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')),
    ).toEqual(THIRD);
  });

  it('reads every representation a client may choose, in step with its table', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.record({
              name: fc.constantFrom(
                'content-type',
                'user-agent',
                'x-a',
                'x-b',
                'grpc-timeout',
                ':path',
              ),
              value: fc
                .string({ maxLength: 40 })
                .map((s) => Buffer.from(s, 'utf8').toString('latin1')),
              how: fc.constantFrom('indexed', 'incremental', 'without', 'never' as const),
              huffman: fc.boolean(),
            }),
            { maxLength: 12 },
          ),
          { minLength: 1, maxLength: 8 },
        ),
        fc.option(fc.integer({ min: 0, max: 4096 }), { nil: undefined }),
        (blocks, sizeUpdate) => {
          const writer = new HpackWriter();
          const decoder = new HpackDecoder();
          blocks.forEach((fields, b) => {
            const pairs = fields.map((f) => [f.name, f.value] as [string, string]);
            const block = writer.block(
              pairs,
              (i) => ({ how: fields[i].how as 'indexed', huffman: fields[i].huffman }),
              b === 1 ? sizeUpdate : undefined,
            );
            expect(decodeAll(decoder, block)).toEqual(pairs);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stops collecting past the list size but keeps its table in step', () => {
    const writer = new HpackWriter();
    const decoder = new HpackDecoder();
    const big: [string, string][] = [['x-big', 'v'.repeat(1000)]];
    const incremental = () => ({ how: 'incremental' as const, huffman: false });
    const fields: FieldList = [];
    const block = writer.block(big, incremental);
    expect(decoder.decode(block, 0, block.length, fields, 500)).toBe(false);
    expect(fields).toEqual([]);
    // The next block refers to the entry the refused one added.
    const next = writer.block(big, () => ({ how: 'indexed', huffman: false }));
    expect(next.length).toBe(1);
    expect(decodeAll(decoder, next)).toEqual(big);
  });

  it('evicts the oldest entries for room, and a too large entry empties the table', () => {
    const writer = new HpackWriter();
    const decoder = new HpackDecoder();
    const incremental = () => ({ how: 'incremental' as const, huffman: true });
    const entries: [string, string][] = Array.from({ length: 40 }, (_, i) => [
      `x-${i}`,
      'y'.repeat(100),
    ]);
    decodeAll(decoder, writer.block(entries, incremental));
    // Only the newest fit 4096 bytes: 30 of 137 bytes.
    const newest = writer.block([entries[39]], () => ({ how: 'indexed', huffman: false }));
    expect(decodeAll(decoder, newest)).toEqual([entries[39]]);
    expect(() => decodeAll(decoder, Buffer.from([0x80 | (61 + 31)]))).toThrow(/past the table/);
    decodeAll(decoder, Buffer.from([0x80 | (61 + 30)]));
    decodeAll(decoder, writer.block([['x-huge', 'z'.repeat(5000)]], incremental));
    expect(() => decodeAll(decoder, Buffer.from([0x80 | 62]))).toThrow(/past the table/);
  });

  it('refuses what is not HPACK, with a COMPRESSION_ERROR that says what', () => {
    const cases: [string, Buffer][] = [
      ['index 0', Buffer.from([0x80])],
      ['past the table', Buffer.from([0xbe])],
      ['table size update to 5000', Buffer.from([0x3f, 0xe9, 0x26])],
      ['size update after a field', Buffer.from([0x82, 0x20])],
      ['integer too large', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])],
      ['integer cut short', Buffer.from([0xff, 0xff])],
      ['longer than its block', Buffer.from([0x40, 0x05, 0x61])],
      ['field cut short', Buffer.from([0x40])],
    ];
    for (const [what, block] of cases) {
      let error: unknown;
      try {
        decodeAll(new HpackDecoder(), block);
      } catch (err) {
        error = err;
      }
      expect(error, what).toBeInstanceOf(Http2Error);
      expect((error as Http2Error).errorCode, what).toBe(0x9);
      expect((error as Http2Error).stream, what).toBe(0);
    }
  });

  it('writes blocks it reads back, static entries by index', () => {
    const fields: [string, string][] = [
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-message', 'x'.repeat(300)],
    ];
    const block = encodeFields(fields);
    expect(block[0]).toBe(0x88);
    expect(decodeAll(new HpackDecoder(), block)).toEqual(fields);
  });
});

describe('huffmanDecode', () => {
  it('decodes every byte value, as coded by the RFC table', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const coded = huffmanEncode(bytes);
        expect(huffmanDecode(coded, 0, coded.length)).toBe(Buffer.from(bytes).toString('latin1'));
      }),
      { numRuns: 500 },
    );
    // RFC 7541 C.4.1: "www.example.com".
    const www = hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff');
    expect(huffmanDecode(www, 0, www.length)).toBe('www.example.com');
  });

  it('refuses EOS, padding past 7 bits, and padding that is not all ones', () => {
    // EOS is 30 ones: four bytes of 0xff hold it.
    expect(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4)).toThrow(/EOS/);
    // 'a' (00011) then a whole byte of ones: 11 bits of padding.
    expect(() => huffmanDecode(Buffer.from([0x1f, 0xff]), 0, 2)).toThrow(/padding/);
    // 'a' then 000: padding of zeros.
    expect(() => huffmanDecode(Buffer.from([0x18]), 0, 1)).toThrow(/not all ones/);
    expect(huffmanDecode(Buffer.from([0x1f]), 0, 1)).toBe('a');
  });
});
