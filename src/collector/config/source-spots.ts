import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { z } from 'zod';
import { zodDefinition } from './zod-definition.js';

/** Where a problem is in the config file: 1-based line and column, and that line's text. */
export interface SourceSpot {
  line: number;
  column: number;
  text: string;
}

/** A key path into the YAML document: map keys and sequence indexes. */
export type KeyPath = readonly (string | number)[];

/**
 * Finds key paths in a parsed YAML document, for messages that show the line: the node at
 * `path`, or with `key` the key `key` of the mapping at `path` (an unknown key is pointed
 * at itself, not at its value).
 */
export class SourceSpots {
  readonly #document: Document;
  readonly #lines: LineCounter;
  readonly #text: string[];

  readonly #show: (line: string) => string;

  /** `show` makes a line of the file safe to print (it takes the secrets out). */
  constructor(
    document: Document,
    lines: LineCounter,
    text: string,
    show: (line: string) => string,
  ) {
    this.#document = document;
    this.#lines = lines;
    this.#text = text.split(/\r?\n/);
    this.#show = show;
  }

  at(path: KeyPath, key?: string): SourceSpot | undefined {
    // A path the file does not have all of (a missing key) points at its deepest part there.
    let node: unknown = this.#document.contents;
    let found = node;
    for (const step of [...path, ...(key === undefined ? [] : [key])]) {
      const next = child(node, step);
      if (next === undefined) break;
      node = next.value;
      // The key itself for an unknown key; the value for anything else.
      found = step === key && next.key !== undefined ? next.key : next.value;
    }
    const offset = (found as Node | undefined)?.range?.[0];
    return offset === undefined ? undefined : this.spotOf(offset);
  }

  /** The spot of character `offset` of the file. */
  spotOf(offset: number): SourceSpot {
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col, text: this.#show(this.#text[line - 1] ?? '') };
  }
}

/** The pair (map) or item (sequence, as `value`) `step` of `node`. */
function child(
  node: unknown,
  step: string | number,
): { key?: unknown; value: unknown } | undefined {
  if (isMap(node)) {
    const pair = node.items.find(
      (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(step),
    );
    return pair && { key: pair.key, value: pair.value };
  }
  if (isSeq(node) && typeof step === 'number') return { value: node.items[step] };
  return undefined;
}

/** The line, and a caret under the column, indented for a problem list. */
export function caret(spot: SourceSpot): string {
  const number = String(spot.line);
  const text = spot.text.replace(/\t/g, ' ');
  return [
    `      ${number} | ${text}`,
    `      ${' '.repeat(number.length)} | ${' '.repeat(Math.max(0, spot.column - 1))}^`,
  ].join('\n');
}

/**
 * The key of `known` closest to the misspelt `key` (`endpiont` → `endpoint`), when one is
 * close enough to be what was meant: at most a third of the key's length in edits (a swap of
 * two neighbours counts as one), and never fewer than one.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, swaps. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: columns }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[rows - 1][columns - 1];
}

/**
 * The keys the object schema at `path` inside `schema` takes (for "did you mean"), or none
 * when the path does not lead to an object. Wrappers (optional, default, a pipe's input)
 * are looked through; records and arrays take any key or index; of a union, the options
 * that are objects.
 */
export function schemaKeysAt(schema: z.ZodType, path: KeyPath): string[] {
  let current: z.ZodType[] = [schema];
  for (const step of [...path, undefined]) {
    const next: z.ZodType[] = [];
    const keys: string[] = [];
    const visit = (s: z.ZodType): void => {
      const def = zodDefinition(s);
      if (def.innerType) visit(def.innerType);
      else if (def.type === 'pipe' && def.in) visit(def.in);
      else if (def.type === 'union' && def.options) def.options.forEach(visit);
      else if (step === undefined) {
        if (def.type === 'object' && def.shape) keys.push(...Object.keys(def.shape));
      } else if (
        def.type === 'object' &&
        def.shape &&
        typeof step === 'string' &&
        step in def.shape
      )
        next.push(def.shape[step]);
      else if (def.type === 'record' && def.valueType) next.push(def.valueType);
      else if (def.type === 'array' && def.element) next.push(def.element);
    };
    current.forEach(visit);
    if (step === undefined) return [...new Set(keys)];
    current = next;
  }
  return [];
}
