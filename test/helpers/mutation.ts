import fc from 'fast-check';

// Mutations of valid bodies, for fuzzing the decoders that read network bytes: the kinds of
// damage real traffic and hostile clients produce. Each case applies one to three of them
// to a copy of a valid body.

export type Mutation =
  /** One bit flipped. */
  | { kind: 'flip'; at: number; bit: number }
  /** One byte overwritten. */
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; value: number }
  | { kind: 'delete'; at: number }
  /** Everything from `at` on cut off (a truncated body). */
  | { kind: 'cut'; at: number }
  /** The byte after the first length-delimited tag at or after `at` (a length) changed. */
  | { kind: 'lying-length'; at: number; value: number }
  /** `length` bytes from `at` repeated in place (a field sent twice, or half of one). */
  | { kind: 'duplicate'; at: number; length: number }
  /** The low three bits (the wire type) of the byte at `at` changed. */
  | { kind: 'wire-type'; at: number; type: number };

/** The number of cases: `FUZZ_RUNS` (`npm run fuzz` sets 100,000), else `fallback`. */
export function fuzzRuns(fallback = 1000): number {
  return Number(process.env.FUZZ_RUNS ?? fallback);
}

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('lying-length' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({ kind: fc.constant('wire-type' as const), at: fc.nat(), type: fc.nat(7) }),
);

export const mutations = fc.array(mutation, { minLength: 1, maxLength: 3 });

/** A damaged copy of `body` (never a view of it: the valid body stays as it was). */
export function mutate(body: Uint8Array, edits: readonly Mutation[]): Uint8Array {
  let out: Uint8Array = Uint8Array.from(body);
  for (const e of edits) {
    if (out.length === 0) break;
    const at = e.at % out.length;
    switch (e.kind) {
      case 'flip':
        out[at] ^= 1 << e.bit;
        break;
      case 'set':
        out[at] = e.value;
        break;
      case 'insert':
        out = concat(out.subarray(0, at), Uint8Array.of(e.value), out.subarray(at));
        break;
      case 'delete':
        out = concat(out.subarray(0, at), out.subarray(at + 1));
        break;
      case 'cut':
        out = out.slice(0, at);
        break;
      case 'lying-length': {
        let tag = at;
        while (tag < out.length - 1 && (out[tag] & 7) !== 2) tag++;
        if (tag < out.length - 1) out[tag + 1] = e.value;
        break;
      }
      case 'duplicate': {
        const piece = out.slice(at, at + e.length);
        out = concat(out.subarray(0, at + piece.length), piece, out.subarray(at + piece.length));
        break;
      }
      case 'wire-type':
        out[at] = (out[at] & ~7) | e.type;
        break;
    }
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
