import { describe, expect, it } from 'vitest';
import { EventLoopBudget } from '../../src/delivery/event-loop-budget.js';

/** Holds the thread for `ms`, like a slice of converting or encoding. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

/**
 * Runs `chains` independent workers of `steps` busy steps each, every step asking the
 * budget first, and returns how many steps ran in each event-loop turn (a turn ends when an
 * unrelated `setImmediate` spinner, standing for the app's timers and I/O, gets to run).
 */
async function stepsPerTurn(
  budgetFor: (chain: number) => EventLoopBudget,
  chains: number,
  steps: number,
  stepMs: number,
): Promise<number[]> {
  const perTurn = [0];
  let running = true;
  const spin = () => {
    perTurn.push(0);
    if (running) setImmediate(spin);
  };
  setImmediate(spin);
  const chain = async (budget: EventLoopBudget) => {
    for (let i = 0; i < steps; i++) {
      const wait = budget.take();
      if (wait) await wait;
      busy(stepMs);
      perTurn[perTurn.length - 1]++;
    }
  };
  await Promise.all(Array.from({ length: chains }, (_, c) => chain(budgetFor(c))));
  running = false;
  return perTurn;
}

describe('EventLoopBudget', () => {
  it('bounds the work of all chains together in one turn', async () => {
    const shared = new EventLoopBudget(5);
    const perTurn = await stepsPerTurn(() => shared, 3, 12, 2);
    expect(perTurn.reduce((a, b) => a + b, 0)).toBe(36);
    // 2 ms steps against 5 ms: after the third step the turn is over, whoever runs next.
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(3);
  });

  it('is what makes the difference: one budget per chain lets their slices add up', async () => {
    const perTurn = await stepsPerTurn(() => new EventLoopBudget(5), 3, 12, 2);
    expect(Math.max(...perTurn)).toBeGreaterThan(3);
  });

  it('starts with a turn of its own, then costs no promise while the turn has budget', async () => {
    const budget = new EventLoopBudget(1_000);
    const first = budget.take();
    expect(first).toBeInstanceOf(Promise);
    await first;
    expect(budget.take()).toBeUndefined();
    expect(budget.take()).toBeUndefined();
  });
});
