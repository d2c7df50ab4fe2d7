import { describe, expect, it } from 'vitest';
import { StallWatch } from '../../src/receivers/nats/stall-watch.js';

function watch(exclusive = true) {
  let now = 0;
  const stall = new StallWatch({
    idleMs: 10_000,
    ackWaitMs: 5_000,
    maxAckPending: 256,
    exclusive,
    now: () => now,
  });
  return { stall, advance: (ms: number) => (now += ms) };
}

describe('StallWatch', () => {
  it('asks the server only after idleMs without a message', () => {
    const { stall, advance } = watch();
    advance(9_999);
    expect(stall.due).toBe(false);
    advance(1);
    expect(stall.due).toBe(true);
    stall.delivered();
    expect(stall.due).toBe(false);
  });

  it('pulls again when messages are pending and none arrive, then steps the leader down', () => {
    const { stall, advance } = watch();
    advance(10_000);
    expect(stall.judge({ num_pending: 317, num_ack_pending: 0 }, false)).toBe('pull-again');
    // The idle clock starts over: the fresh pull gets its time.
    expect(stall.due).toBe(false);
    advance(10_000);
    expect(stall.judge({ num_pending: 317, num_ack_pending: 0 }, false)).toBe('step-down');
    // A message in between: a stall again is a first one.
    stall.delivered();
    advance(10_000);
    expect(stall.judge({ num_pending: 5, num_ack_pending: 0 }, false)).toBe('pull-again');
  });

  it('is fine with nothing pending, or with max_ack_pending reached (the server rightly waits)', () => {
    const { stall, advance } = watch();
    advance(60_000);
    expect(stall.judge({ num_pending: 0, num_ack_pending: 0 }, false)).toBe('fine');
    // Idle, and asked just now: asked again only idleMs later.
    expect(stall.due).toBe(false);
    advance(10_000);
    expect(stall.due).toBe(true);
    expect(stall.judge({ num_pending: 900, num_ack_pending: 256 }, true)).toBe('fine');
  });

  it("pulls again for a dead holder's messages not handed out again after the ack wait, on a consumer of its own", () => {
    const { stall, advance } = watch();
    advance(10_000);
    // Within the ack wait (plus the idle time): they are not due yet.
    expect(stall.judge({ num_pending: 0, num_ack_pending: 105 }, false)).toBe('fine');
    advance(5_000);
    // This member holds some: they may be its own.
    expect(stall.judge({ num_pending: 0, num_ack_pending: 105 }, true)).toBe('fine');
    expect(stall.judge({ num_pending: 0, num_ack_pending: 105 }, false)).toBe('pull-again');
    // On a consumer shared with other members they may be theirs.
    const shared = watch(false);
    shared.advance(60_000);
    expect(shared.stall.judge({ num_pending: 0, num_ack_pending: 105 }, false)).toBe('fine');
  });
});
