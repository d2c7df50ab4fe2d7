import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  AckPolicy,
  type ConsumerMessages,
  connect,
  type Consumer as JsConsumer,
  type JsMsg,
  type NatsConnection,
  nanos,
} from 'nats';
import type { Logger } from 'pino';
import { OtlpRequestValidator } from '../../codec/protobuf/validate-request.js';
import type { Consumer } from '../../model/consumer.js';
import { SluiceError } from '../../model/errors.js';
import type { PartitionChain } from '../../model/partition.js';
import { within } from '../../model/within.js';
import { natsConnectOptions } from '../../net/nats-options.js';
import { attributeLimits, limitedDecoder } from '../attribute-limits-config.js';
import type { Receiver, ReceiverSettings } from '../receiver.js';
import { ReceiverStats, type Refusal } from '../receiver-stats.js';
import { inlineDecoder, type RequestDecoder } from '../request-decoder.js';
import type { NatsReceiverConfig } from './config.js';
import { JetStreamSnapshots, type SnapshotObjects } from './jetstream-state-store.js';
import { NatsPartitionScope } from './nats-partition-scope.js';
import { PartitionLeases } from './partition-leases.js';
import { StallWatch } from './stall-watch.js';

/**
 * A durable JetStream pull consumer: each message is an OTLP protobuf request; it is
 * acknowledged only once the pipeline accepted its batch, so nothing is lost when sluice
 * or the pipeline stops half-way (JetStream redelivers). Under backpressure the message is
 * negatively acknowledged with a delay; a message that cannot be decoded is terminated
 * (never redelivered), counted and logged.
 */
export class NatsReceiver implements Receiver {
  readonly id: string;
  readonly stats = new ReceiverStats();
  readonly statsByTransport = { nats: this.stats };
  readonly #config: NatsReceiverConfig;
  readonly #next: Consumer;
  readonly #logger: Logger;
  readonly #decoder: RequestDecoder;
  readonly #validator: OtlpRequestValidator;
  #nc: NatsConnection | undefined;
  #connecting: Promise<NatsConnection> | undefined;
  /** The partitions' processor state, in the group's state stream (see `NatsPartitionScope`). */
  readonly #snapshots: SnapshotObjects = {
    claim: async (name, writer) => (await this.#stateStream()).claim(name, writer),
    put: async (name, bytes, expected) => (await this.#stateStream()).put(name, bytes, expected),
  };
  #snapshotStream: JetStreamSnapshots | undefined;
  /** Bytes each consumer pulls ahead of what it handled (see `pullBytes`). */
  readonly #pullBytes: number;
  #loop: Promise<void> | undefined;
  #stopping = false;
  /** Without `partitions`: the one consumer. */
  readonly #single: Consumption;
  /** With `partitions`: the consumption of each partition held. */
  readonly #partitions = new Map<number, Consumption>();
  #leases: PartitionLeases | undefined;
  #stallTimer: NodeJS.Timeout | undefined;
  #checkingStalls = false;

  constructor(settings: ReceiverSettings, config: NatsReceiverConfig, next: Consumer) {
    this.id = settings.id;
    const limits = attributeLimits(config);
    this.#decoder = limitedDecoder(settings.decoder ?? inlineDecoder, limits);
    this.#validator = new OtlpRequestValidator(limits);
    this.#config = config;
    this.#next = next;
    this.#single = consumption(next);
    this.#logger = settings.logger.child({ receiver: settings.id });
    this.#pullBytes = pullBytes(config.partitions?.count ?? 1);
  }

  get addresses(): string[] {
    return [
      `NATS JetStream ${this.#config.url} stream ${this.#config.stream}, consumer ${this.#config.consumer}`,
    ];
  }

  /**
   * Ready (for `/readyz`) while connected with the consumer delivering — or, partitioned,
   * while connected and in its group (a member may hold no partition when there are more
   * members than partitions).
   */
  get listening(): boolean {
    const connected = this.#nc !== undefined && !this.#nc.isClosed();
    const consuming =
      this.#single.consuming || [...this.#partitions.values()].some((c) => c.consuming);
    return connected && (this.#leases !== undefined || consuming);
  }

  /** The partitions this receiver consumes now (with `partitions`), in order. */
  get partitionsHeld(): number[] {
    return this.#leases?.held ?? [...this.#partitions.keys()].sort((a, b) => a - b);
  }

  /** Returns at once: connecting, and reconnecting, happen in the background. */
  async start(): Promise<void> {
    this.#loop = this.#run();
    this.#stallTimer = setInterval(() => void this.#checkStalls(), STALL_CHECK_MS);
    this.#stallTimer.unref();
  }

  /**
   * Asks the server about each consumer that received nothing for a while, and pulls afresh
   * where it has messages for it that never come (see `StallWatch`).
   */
  async #checkStalls(): Promise<void> {
    if (this.#checkingStalls) return;
    this.#checkingStalls = true;
    try {
      const consumptions = [this.#single, ...this.#partitions.values()];
      for (const state of consumptions) {
        const { consumer, watch } = state;
        if (!state.consuming || state.handling || state.stopped || !consumer || !watch?.due)
          continue;
        const info = await consumer.info().catch(() => undefined);
        // A message may have come meanwhile.
        if (!info || !state.consuming || state.stopped || !watch.due) continue;
        const holding = state.acknowledging !== undefined || state.unacknowledged.length > 0;
        const idleMs = watch.idleMs;
        const verdict = watch.judge(info, holding);
        if (verdict === 'fine') continue;
        this.#logger.warn(
          {
            partition: state.partition,
            consumer: state.durable,
            pending: info.num_pending,
            ackPending: info.num_ack_pending,
            idleMs,
          },
          verdict === 'step-down'
            ? 'nats: consumer still gets none of its pending messages; asking its leader to step down and pulling again'
            : 'nats: consumer gets none of its pending messages; pulling again',
        );
        this.stats.countStall('pull_again');
        if (verdict === 'step-down') {
          this.stats.countStall('leader_stepdown');
          await this.#nc
            ?.request(
              `$JS.API.CONSUMER.LEADER.STEPDOWN.${this.#config.stream}.${state.durable}`,
              undefined,
              { timeout: 5_000 },
            )
            .catch(() => {});
        }
        // The consuming loop ends, and consumes again a second later: new pulls.
        state.messages?.stop();
      }
    } finally {
      this.#checkingStalls = false;
    }
  }

  /**
   * Stops consuming: partitions are given up first, so the group's other members take them
   * at once. Each step is bounded — by `SHUTDOWN_STEP_MS` and by the collector's deadline: a
   * server that stopped answering must not keep the process from exiting; what was not
   * acknowledged is delivered again anyway.
   */
  async shutdown(options: { deadlineMs: number } = { deadlineMs: 30_000 }): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#stallTimer);
    const deadline = Date.now() + options.deadlineMs;
    const step = (promise: Promise<unknown> | undefined) =>
      within(promise ?? Promise.resolve(), Math.min(SHUTDOWN_STEP_MS, deadline - Date.now()));
    await step(this.#leases?.stop(true));
    for (const p of [...this.#partitions.keys()]) await step(this.#stopPartition(p));
    this.#single.stopped = true;
    // The exporters are still running: what was accepted is sent and acknowledged, not
    // handed out again to whoever consumes next.
    await step(this.#single.acknowledging);
    const nc = this.#nc;
    this.#nc = undefined;
    // Draining stops the deliveries; messages still in hand were handed back (`stopped`).
    await step(nc?.drain());
    if (nc && !nc.isClosed()) await nc.close().catch(() => {});
    this.#single.messages?.stop();
    await step(this.#loop);
  }

  async #run(): Promise<void> {
    const partitions = this.#config.partitions;
    if (!partitions) {
      await this.#consume(this.#config.consumer, this.#config.filter_subject, this.#single);
      return;
    }
    if (partitions.assign !== 'auto') {
      for (const p of partitions.assign) this.#startPartition(p);
      return;
    }
    await this.#retrying('NATS server or the partition lease bucket not available', async () => {
      const nc = await this.#connection();
      // A request lost with a server that died fails within a round, not after the client's
      // 5 s default: the next round, a quarter lease later, tries again.
      const timeout = Math.max(500, partitions.lease / 4);
      const kv = await nc
        .jetstream({ timeout })
        .views.kv(`sluice_leases_${this.#config.consumer}`, {
          ttl: partitions.lease,
          history: 1,
          replicas: partitions.replicas,
          timeout,
        });
      const leases = new PartitionLeases({
        kv,
        member: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
        partitions: partitions.count,
        leaseMs: partitions.lease,
        take: async (p) => this.#startPartition(p),
        give: (p, graceful) => this.#stopPartition(p, graceful),
        logger: this.#logger,
      });
      await leases.start();
      this.#leases = leases;
      return true;
    });
  }

  /**
   * Consumes partition `p` (its own durable consumer) until `#stopPartition(p)`. Where the
   * pipelines have processors, the partition gets a chain of its own (`openPartition`), whose
   * state is kept in the group's state stream and moves with the partition.
   */
  #startPartition(p: number): void {
    const { consumer, partitions } = this.#config;
    const durable = `${consumer}_p${p}`;
    const state = consumption(this.#next);
    state.partition = p;
    if (this.#next.openPartition && partitions!.move_state) {
      state.scope = new NatsPartitionScope(
        p,
        durable,
        this.#snapshots,
        this.#config.max_ack_pending,
      );
    }
    state.done = this.#consume(durable, `${partitions!.subject}.${p}`, state);
    this.#partitions.set(p, state);
  }

  /**
   * Stops consuming partition `p`: what it was handling is finished, what it had queued is
   * handed back. Given up `graceful`ly, its chain is closed (its state snapshotted) and what
   * that snapshot holds acknowledged, within `SHUTDOWN_STEP_MS`; otherwise (the lease lost,
   * or not renewed in time — the NATS cluster slow or away) another member may be loading
   * its state already: the partition is revoked, nothing more is written or acknowledged for
   * it, and the next holder is handed again whatever the last snapshot misses. Either way the
   * lease rounds wait for this, so it must not hang on a server that does not answer.
   */
  async #stopPartition(p: number, graceful = true): Promise<void> {
    const state = this.#partitions.get(p);
    if (!state) return;
    this.#partitions.delete(p);
    state.stopped = true;
    // Taken away: from now on nothing is written for it, not even while what it was handling
    // finishes (the next holder may be loading its state already).
    if (!graceful && state.scope) state.scope.revoked = true;
    state.messages?.stop();
    await within(state.done ?? Promise.resolve(), SHUTDOWN_STEP_MS);
    const chain = state.chain;
    if (!chain) return;
    if (graceful) {
      const closed = chain
        .close({ deadlineMs: SHUTDOWN_STEP_MS })
        .catch((err: Error) =>
          this.#logger.warn(
            { partition: p, error: err.message },
            "closing a partition's processors failed; what they had not snapshotted is handed out again",
          ),
        );
      await within(closed, SHUTDOWN_STEP_MS);
    }
    // From here nothing is written for it (a graceful close is done, or took too long).
    if (state.scope) state.scope.revoked = true;
    if (!graceful) void chain.close({ deadlineMs: SHUTDOWN_STEP_MS }).catch(() => {});
    await within(state.acknowledging ?? Promise.resolve(), SHUTDOWN_STEP_MS);
  }

  /** The group's state stream, on the receiver's connection. */
  async #stateStream(): Promise<JetStreamSnapshots> {
    const nc = await this.#connection();
    if (this.#snapshotStream?.connection !== nc) {
      this.#snapshotStream = new JetStreamSnapshots(
        nc,
        this.#config.consumer,
        this.#config.partitions!.replicas,
      );
    }
    return this.#snapshotStream;
  }

  /**
   * Consumes durable consumer `durable` (created when missing, on `filter` if given) until
   * `state.stopped` or shutdown, retrying every second while the server is away or the
   * stream does not exist yet (the nats exporter creates it), and saying so once; a consumer
   * that ends (a server restart) is fetched again.
   */
  async #consume(durable: string, filter: string | undefined, state: Consumption): Promise<void> {
    await this.#retrying(
      'NATS server, stream or consumer not available',
      async () => {
        const nc = await this.#connection();
        if (state.scope && !state.chain) {
          // The partition's processors, with its state loaded, before its first message.
          state.chain = await this.#next.openPartition!(state.scope);
          state.next = state.chain.consumer;
        }
        const jsm = await nc.jetstreamManager();
        await jsm.consumers.add(this.#config.stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          max_ack_pending: this.#config.max_ack_pending,
          ack_wait: nanos(this.#config.ack_wait),
          ...(filter ? { filter_subject: filter } : {}),
        });
        const consumer: JsConsumer = await nc
          .jetstream()
          .consumers.get(this.#config.stream, durable);
        // By bytes, not messages (the client takes one or the other; `max_ack_pending`
        // still bounds the count on the server's side).
        const messages = await consumer.consume({ max_bytes: this.#pullBytes });
        state.messages = messages;
        state.consumer = consumer;
        state.durable = durable;
        state.watch = new StallWatch({
          idleMs: STALL_IDLE_MS,
          ackWaitMs: this.#config.ack_wait,
          maxAckPending: this.#config.max_ack_pending,
          exclusive: state.partition !== undefined,
        });
        state.consuming = true;
        try {
          for await (const message of messages) {
            state.watch.delivered();
            // Handed out before the stop: back to the stream for whoever takes the partition.
            if (state.stopped) message.nak();
            else {
              if (state.scope) state.scope.position = message.seq;
              state.handling = true;
              try {
                await this.#handle(message, state);
              } finally {
                state.handling = false;
              }
            }
          }
        } finally {
          state.consuming = false;
        }
        return state.stopped;
      },
      state,
    );
  }

  /**
   * Runs `attempt` until it returns true, shutdown, or `state.stopped`; when it throws, logs
   * `trouble` once (until an attempt gets through) and tries again a second later.
   */
  async #retrying(
    trouble: string,
    attempt: () => Promise<boolean>,
    state?: Consumption,
  ): Promise<void> {
    let troubleSaid = false;
    const over = () => this.#stopping || state?.stopped === true;
    while (!over()) {
      try {
        if (await attempt()) return;
        troubleSaid = false;
      } catch (err) {
        if (over()) break;
        if (!troubleSaid) {
          this.#logger.warn(
            { error: (err as Error).message, url: this.#config.url, stream: this.#config.stream },
            `${trouble}; retrying every second`,
          );
          troubleSaid = true;
        }
      }
      if (!over()) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  /**
   * The receiver's one connection, made when there is none. Partition consumers ask at once:
   * they share the attempt in flight (each making its own leaked connections that kept the
   * process alive after shutdown).
   */
  #connection(): Promise<NatsConnection> {
    if (this.#nc && !this.#nc.isClosed()) return Promise.resolve(this.#nc);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<NatsConnection> {
    const nc = await connect(
      natsConnectOptions(this.#config, `sluice ${this.id}`, `receivers.${this.id}.tls`),
    );
    if (this.#stopping) {
      await nc.close();
      throw new SluiceError('SLUICE_ERR_SHUT_DOWN', 'shutting down');
    }
    this.#nc = nc;
    return nc;
  }

  async #handle(message: JsMsg, state: Consumption): Promise<void> {
    this.stats.requests++;
    if (this.stats.offerOtlpProtobuf(state.next, message.data)) {
      this.#acknowledge(message, state);
      return;
    }
    let refused: Refusal | undefined;
    try {
      refused = await this.stats.accept(
        state.next,
        message.data,
        () => this.#decoder.decode('otlp-protobuf', message.data),
        this.#validator,
      );
    } catch (err) {
      this.#logger.warn(
        { error: (err as Error).message, subject: message.subject, seq: message.seq },
        'terminated a NATS message that is not an OTLP metrics request',
      );
      // Not an OTLP request: never delivered again.
      message.term();
      return;
    }
    // Refused: JetStream keeps it and hands it out again a second later.
    if (refused) message.nak(1_000);
    else this.#acknowledge(message, state);
  }

  /**
   * Acknowledges an accepted message — once the pipeline has sent what it accepted so far,
   * where it can say so (`Consumer.settled`). Until then the message stays in the stream,
   * so a `kill -9` between accepting and sending loses nothing: JetStream hands it out again
   * (to this group's next holder of the partition) after the ack wait. Messages accepted
   * while one wait is on are acknowledged by the next, so waits overlap the batching instead
   * of adding to it.
   */
  #acknowledge(message: JsMsg, state: Consumption): void {
    if (!state.next.settled) {
      message.ack();
      return;
    }
    state.unacknowledged.push(message);
    if (state.scope) state.scope.waiting++;
    state.acknowledging ??= this.#acknowledgeSettled(state).finally(() => {
      state.acknowledging = undefined;
    });
  }

  async #acknowledgeSettled(state: Consumption): Promise<void> {
    while (state.unacknowledged.length > 0) {
      const accepted = state.unacknowledged;
      state.unacknowledged = [];
      // While a backend is slow or down, tell JetStream the messages are being worked on:
      // handed out again after the ack wait, each would be queued again, and an outage
      // would fill the queue with copies. A crashed process stops saying so.
      const working = setInterval(
        () => {
          for (const message of accepted) message.working();
          for (const message of state.unacknowledged) message.working();
        },
        Math.max(500, this.#config.ack_wait / 3),
      );
      try {
        await state.next.settled!();
      } catch {
        // The partition's chain closed before a snapshot held them: to whoever takes it next.
        for (const message of accepted) message.nak();
        continue;
      } finally {
        clearInterval(working);
        if (state.scope) state.scope.waiting -= accepted.length;
      }
      if (state.scope?.stateful) await this.#forget(accepted, state.scope);
      else for (const message of accepted) message.ack();
    }
  }

  /**
   * Acknowledges messages a partition's state holds, and tells the chain which ones JetStream
   * confirmed: those are never handed out again, so the next snapshots need not list them.
   */
  async #forget(messages: JsMsg[], scope: NatsPartitionScope): Promise<void> {
    const confirmed = await Promise.all(
      messages.map((message) => message.ackAck().catch(() => false)),
    );
    scope.forgotten(messages.filter((_, k) => confirmed[k]).map((message) => message.seq));
  }
}

/**
 * Bytes one consumer asks the server for in each pull. Every consumer of a receiver shares
 * its connection, and nats-server drops deliveries to a client with more than 64 MiB unread
 * ("Slow Consumer Detected: MaxPending"); they come back only after the ack wait (30 s): a
 * stall, then messages handled twice. Pulling 64 messages of ~140 kB per partition did that
 * with six partitions and a backlog (bench/scale); the client keeps up to four pulls open per
 * consumer, so the consumers share 16 MiB a pull, each at least 2 MiB (twice a message at the
 * server's default max_payload). A member holding more than 8 partitions goes over the share:
 * with large backlogs, raise the server's `max_pending` then.
 */
function pullBytes(consumers: number): number {
  return Math.max(2 * 2 ** 20, Math.floor((16 * 2 ** 20) / consumers));
}

/** The longest each step of `shutdown` waits. */
const SHUTDOWN_STEP_MS = 5_000;

/** How often consumers are checked for a stall, and after how long without a message. */
const STALL_CHECK_MS = 2_500;
const STALL_IDLE_MS = 10_000;

/** One durable consumer being consumed. */
interface Consumption {
  consuming: boolean;
  /** Whether a message is being handled (the loop is not waiting for the next). */
  handling: boolean;
  /** The partition, with `partitions`. */
  partition?: number;
  /** The consumer being consumed now, by name, and whether it gets its messages. */
  consumer?: JsConsumer;
  durable?: string;
  watch?: StallWatch;
  /** Set to stop it (a partition given up). */
  stopped: boolean;
  messages?: ConsumerMessages;
  done?: Promise<void>;
  /** Where its messages go: the receiver's pipelines, or the chain opened for its partition. */
  next: Consumer;
  /** A partition's: what its chain sees of it, and the chain once opened. */
  scope?: NatsPartitionScope;
  chain?: PartitionChain;
  /** Accepted messages waiting for `next` to settle (see `#acknowledge`). */
  unacknowledged: JsMsg[];
  acknowledging?: Promise<void>;
}

function consumption(next: Consumer): Consumption {
  return { consuming: false, handling: false, stopped: false, next, unacknowledged: [] };
}
