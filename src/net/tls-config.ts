import { z } from 'zod';
import { duration } from '../model/duration.js';

const tlsVersion = z.enum(['1.2', '1.3'], { error: 'expected "1.2" or "1.3"' });

/**
 * `tls:` on a listener, in the Collector's confighttp/configgrpc keys. `client_ca_file`
 * turns on mutual TLS: every client must present a certificate that CA signed.
 * Certificate, key and CA files are read again every `reload_interval` and swapped in when
 * they changed, so a rotated certificate takes effect without a restart.
 */
export const serverTlsSchema = z.strictObject({
  cert_file: z.string().min(1, 'expected the path of a PEM certificate'),
  key_file: z.string().min(1, 'expected the path of a PEM private key'),
  client_ca_file: z.string().min(1).optional(),
  min_version: tlsVersion.default('1.2'),
  reload_interval: duration.default(60_000).refine((ms) => ms === 0 || ms >= 10, {
    message: 'expected 0 (never) or a duration of at least 10ms',
  }),
});

export type ServerTlsConfig = z.output<typeof serverTlsSchema>;

/**
 * `tls:` on an exporter (the Collector's configtls client keys): `insecure` sends in plain
 * text, `insecure_skip_verify` encrypts without checking the server's certificate (for tests,
 * never for production), `ca_file` trusts a private CA, `cert_file`/`key_file` present a
 * client certificate for mTLS.
 */
export const clientTlsKeys = {
  insecure: z.boolean().default(false),
  insecure_skip_verify: z.boolean().default(false),
  ca_file: z.string().min(1).optional(),
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  server_name_override: z.string().min(1).optional(),
  min_version: tlsVersion.default('1.2'),
};

/** A client certificate needs its key, and a key its certificate. */
export const certificateWithKey = [
  (tls: { cert_file?: string; key_file?: string }) =>
    (tls.cert_file === undefined) === (tls.key_file === undefined),
  { message: 'cert_file and key_file go together (a client certificate needs its key)' },
] as const;

export const clientTlsSchema = z.strictObject(clientTlsKeys).refine(...certificateWithKey);

export type ClientTlsConfig = z.output<typeof clientTlsSchema>;

/** `auth: { authenticator: <extension id> }`, on a listener or an exporter. */
export const authReferenceSchema = z.strictObject({
  authenticator: z.string().min(1, 'expected the id of an auth extension, e.g. bearertokenauth'),
});

export type AuthReference = z.output<typeof authReferenceSchema>;

/** Node's `minVersion` for a config's `min_version`. */
export function nodeTlsVersion(version: '1.2' | '1.3'): 'TLSv1.2' | 'TLSv1.3' {
  return version === '1.3' ? 'TLSv1.3' : 'TLSv1.2';
}
