import type { z } from 'zod';
import type { ListenerProtection } from '../model/auth.js';
import type { ComponentFactory, FactorySpec } from '../model/component-factory.js';
import { defineFactory } from '../model/component-factory.js';
import type { Component, ComponentSettings, Consumer } from '../model/consumer.js';
import type { ReceiverStats } from './receiver-stats.js';
import type { RequestDecoder } from './request-decoder.js';

/** Receivers take their decoder from the collector (one pool for all of them). */
export interface ReceiverSettings extends ComponentSettings {
  decoder?: RequestDecoder;
}

/** What the collector and its admin server read from every receiver. */
export interface Receiver extends Component {
  /** Ready to take data (every listener bound, a consumer delivering): `/readyz`. */
  readonly listening: boolean;
  /** Where it takes data from, for the startup banner. */
  readonly addresses: readonly string[];
  /**
   * Its counters by transport (`http`, `grpc`, `nats`): the receiver's lines on `/metrics`,
   * labelled `transport`. Every transport it runs has an entry from the start.
   */
  readonly statsByTransport: Readonly<Record<string, ReceiverStats>>;
  /** Its sockets and what protects them (a NATS receiver listens on none). */
  readonly listeners?: readonly ListenerProtection[];
}

export type CreateReceiver = (settings: ReceiverSettings, next: Consumer) => Receiver;
export type ReceiverFactory = ComponentFactory<CreateReceiver>;

/** A receiver factory: its config schema and the receiver it builds from a parsed config. */
export function defineReceiver<Schema extends z.ZodType>(
  spec: FactorySpec<Schema> & {
    create(settings: ReceiverSettings, config: z.output<Schema>, next: Consumer): Receiver;
  },
): ReceiverFactory {
  return defineFactory(
    'receiver',
    spec,
    (config) => (settings, next) => spec.create(settings, config, next),
  );
}
