import { describe, expect, it } from 'vitest';
import { BodyBuffers } from '../../src/receivers/body-buffers.js';

describe('BodyBuffers', () => {
  it('joins chunks and serves the next body from a buffer given back', () => {
    const bodies = new BodyBuffers();
    const first = bodies.join([Buffer.from('abc'), Buffer.from('defg')], 7);
    expect(first.body.toString()).toBe('abcdefg');
    bodies.give(first.buffer);
    const second = bodies.join([Buffer.from('xy')], 2);
    expect(second.buffer).toBe(first.buffer);
    expect(second.body.toString()).toBe('xy');
    // Taken and not given back: the next body gets another buffer.
    const third = bodies.join([Buffer.from('z')], 1);
    expect(third.buffer).not.toBe(second.buffer);
  });

  it('does not keep buffers over its size limit, nor more than its count', () => {
    const bodies = new BodyBuffers(1, 100 * 1024);
    const big = bodies.join([Buffer.alloc(200 * 1024, 1)], 200 * 1024);
    expect(big.body.length).toBe(200 * 1024);
    bodies.give(big.buffer);
    expect(bodies.join([Buffer.alloc(10)], 10).buffer).not.toBe(big.buffer);
    const a = bodies.join([Buffer.alloc(10)], 10);
    const b = bodies.join([Buffer.alloc(10)], 10);
    bodies.give(a.buffer);
    bodies.give(b.buffer);
    const c = bodies.join([Buffer.alloc(10)], 10);
    const d = bodies.join([Buffer.alloc(10)], 10);
    expect([c.buffer, d.buffer].filter((x) => x === a.buffer || x === b.buffer)).toHaveLength(1);
  });
});
