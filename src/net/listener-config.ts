import type { z } from 'zod';
import { duration } from '../model/duration.js';
import { authReferenceSchema, serverTlsSchema } from './tls-config.js';

/**
 * What every HTTP listener takes besides its endpoint (the Collector's confighttp server
 * keys): TLS, an authenticator, and the timeouts that bound what a slow or stalled client
 * can hold — a connection trickling its headers is closed after `read_header_timeout`, a
 * request whose body has not arrived after `read_timeout` is answered 408.
 */
export const httpListenerKeys = {
  tls: serverTlsSchema.optional(),
  auth: authReferenceSchema.optional(),
  read_header_timeout: duration.default(10_000).refine((ms) => ms >= 1, 'expected at least 1ms'),
  read_timeout: duration.default(60_000).refine((ms) => ms >= 1, 'expected at least 1ms'),
  idle_timeout: duration.default(30_000),
};

export type HttpListenerConfig = {
  tls?: z.output<typeof serverTlsSchema>;
  auth?: z.output<typeof authReferenceSchema>;
  read_header_timeout: number;
  read_timeout: number;
  idle_timeout: number;
};

/** The listener keys at their defaults: for listeners whose whole block may be left out. */
export const HTTP_LISTENER_DEFAULTS: HttpListenerConfig = {
  read_header_timeout: 10_000,
  read_timeout: 60_000,
  idle_timeout: 30_000,
};

/** What a gRPC listener takes besides its endpoint (configgrpc's server keys). */
export const grpcListenerKeys = {
  tls: serverTlsSchema.optional(),
  auth: authReferenceSchema.optional(),
};
