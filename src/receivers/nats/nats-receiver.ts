import {
  AckPolicy,
  connect,
  type Consumer as JsConsumer,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import type { Logger } from 'pino';
import { OtlpRequestValidator } from '../../codec/protobuf/validate-request.js';
import type { Consumer } from '../../model/consumer.js';
import { SluiceError } from '../../model/errors.js';
import { natsConnectOptions } from '../../net/nats-options.js';
import { attributeLimits, limitedDecoder } from '../attribute-limits-config.js';
import type { Receiver, ReceiverSettings } from '../receiver.js';
import { ReceiverStats, type Refusal } from '../receiver-stats.js';
import { inlineDecoder, type RequestDecoder } from '../request-decoder.js';
import type { NatsReceiverConfig } from './config.js';

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
  #loop: Promise<void> | undefined;
  #stopping = false;
  #consuming = false;

  constructor(settings: ReceiverSettings, config: NatsReceiverConfig, next: Consumer) {
    this.id = settings.id;
    const limits = attributeLimits(config);
    this.#decoder = limitedDecoder(settings.decoder ?? inlineDecoder, limits);
    this.#validator = new OtlpRequestValidator(limits);
    this.#config = config;
    this.#next = next;
    this.#logger = settings.logger.child({ receiver: settings.id });
  }

  get addresses(): string[] {
    return [
      `NATS JetStream ${this.#config.url} stream ${this.#config.stream}, consumer ${this.#config.consumer}`,
    ];
  }

  /** Ready (for `/readyz`) while connected with the consumer delivering. */
  get listening(): boolean {
    return this.#consuming && !this.#nc?.isClosed();
  }

  /** Returns at once: connecting, and reconnecting, happen in the background. */
  async start(): Promise<void> {
    this.#loop = this.#run();
  }

  async shutdown(): Promise<void> {
    this.#stopping = true;
    const nc = this.#nc;
    this.#nc = undefined;
    // Draining stops the deliveries and waits for the messages in hand to be handled.
    await nc?.drain().catch(() => {});
    await this.#loop;
  }

  /**
   * Connects and consumes until shutdown, retrying every second while the server is away or
   * the stream does not exist yet (the nats exporter creates it), and saying so once; a
   * consumer that ends (a server restart) is fetched again.
   */
  async #run(): Promise<void> {
    let troubleSaid = false;
    while (!this.#stopping) {
      try {
        const nc = await this.#connection();
        const jsm = await nc.jetstreamManager();
        await jsm.consumers.add(this.#config.stream, {
          durable_name: this.#config.consumer,
          ack_policy: AckPolicy.Explicit,
          max_ack_pending: this.#config.max_ack_pending,
          ...(this.#config.filter_subject ? { filter_subject: this.#config.filter_subject } : {}),
        });
        const consumer: JsConsumer = await nc
          .jetstream()
          .consumers.get(this.#config.stream, this.#config.consumer);
        const messages = await consumer.consume({
          max_messages: Math.min(64, this.#config.max_ack_pending),
        });
        this.#consuming = true;
        troubleSaid = false;
        for await (const message of messages) await this.#handle(message);
      } catch (err) {
        if (this.#stopping) break;
        if (!troubleSaid) {
          this.#logger.warn(
            { error: (err as Error).message, url: this.#config.url, stream: this.#config.stream },
            'NATS server, stream or consumer not available; retrying every second',
          );
          troubleSaid = true;
        }
      }
      this.#consuming = false;
      if (!this.#stopping) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    this.#consuming = false;
  }

  async #connection(): Promise<NatsConnection> {
    if (this.#nc && !this.#nc.isClosed()) return this.#nc;
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

  async #handle(message: JsMsg): Promise<void> {
    this.stats.requests++;
    if (this.stats.offerOtlpProtobuf(this.#next, message.data)) {
      message.ack();
      return;
    }
    let refused: Refusal | undefined;
    try {
      refused = await this.stats.accept(
        this.#next,
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
    else message.ack();
  }
}
