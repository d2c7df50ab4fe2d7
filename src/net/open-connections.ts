import type { Socket } from 'node:net';

/** A connection a listener parses itself (`BodyConnection`, `H2Connection`). */
export interface ServedConnection {
  readonly socket: Socket;
  /** Applies the connection's timeouts at `now` (`performance.now()`). */
  expire(now: number): void;
  /** Lets what is under way finish, then closes. */
  closeGracefully(): void;
}

/**
 * The connections a listener serves: one sweep applies their timeouts, and closing waits
 * until the last has gone. The listener adds each connection it opens and removes it once its
 * socket has closed.
 */
export class OpenConnections<C extends ServedConnection> {
  readonly #connections = new Set<C>();
  #sweep: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;

  add(connection: C): void {
    this.#connections.add(connection);
  }

  /** The connection's socket has closed. */
  remove(connection: C): void {
    this.#connections.delete(connection);
    if (this.#connections.size === 0) this.#drained?.();
  }

  /** Checks every connection's timeouts every `everyMs`, until `stopSweeping`. */
  sweepEvery(everyMs: number): void {
    this.#sweep = setInterval(() => {
      const now = performance.now();
      for (const connection of this.#connections) connection.expire(now);
    }, everyMs).unref();
  }

  stopSweeping(): void {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  /** Closes every connection gracefully (`force`: destroys them); resolves once none is left. */
  drain(force = false): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#drained = resolve;
      for (const connection of this.#connections) {
        if (force) connection.socket.destroy();
        else connection.closeGracefully();
      }
      if (this.#connections.size === 0) resolve();
    });
  }

  /** Destroys whatever connection is left. */
  destroyAll(): void {
    for (const connection of this.#connections) connection.socket.destroy();
  }
}
