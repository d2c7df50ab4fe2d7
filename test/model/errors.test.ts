import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, SluiceError } from '../../src/index.js';
import { parseListenEndpoint } from '../../src/model/endpoint.js';

const src = new URL('../../src/', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Errors made for a library's protocol, not thrown at a caller: the only plain ones. */
const PROTOCOL_ERRORS = new Set([
  'receivers/otlp/otlp-grpc-receiver.ts', // a gRPC ServiceError handed to grpc-js's callback
  'exporters/postgresql/postgres-sender.ts', // client.release(err) tells pg to drop the socket
]);

describe('errors', () => {
  it('every error sluice makes on purpose is a SluiceError with a stable code', () => {
    const plain: string[] = [];
    for (const file of sources(src)) {
      const path = relative(src, file);
      const text = readFileSync(file, 'utf8');
      for (const [k, line] of text.split('\n').entries()) {
        if (/\bnew Error\(|\bextends Error\b/.test(line) && !/class SluiceError/.test(line)) {
          if (!PROTOCOL_ERRORS.has(path)) plain.push(`${path}:${k + 1}: ${line.trim()}`);
        }
      }
    }
    expect(plain).toEqual([]);
  });

  it('an invalid argument names the option, the value and what is allowed', () => {
    let caught: unknown;
    try {
      parseListenEndpoint('localhost', 'receivers.otlp.endpoint');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SluiceError);
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect(caught).toMatchObject({
      code: 'SLUICE_ERR_INVALID_ARGUMENT',
      option: 'receivers.otlp.endpoint',
      value: 'localhost',
      allowed: 'host:port, e.g. 127.0.0.1:4318',
      message: 'receivers.otlp.endpoint: expected host:port, e.g. 127.0.0.1:4318, got "localhost"',
    });
  });
});
