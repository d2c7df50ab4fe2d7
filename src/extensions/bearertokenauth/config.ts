import { z } from 'zod';

/**
 * `bearertokenauth` (the Collector's keys): the token inline or in a file (read again when
 * it changes), sent and expected as `<scheme> <token>` in `header`.
 */
export const bearerTokenAuthConfig = z
  .strictObject({
    scheme: z.string().default('Bearer'),
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name')
      .default('authorization')
      .transform((name) => name.toLowerCase()),
    token: z.string().min(1, 'expected a non-empty token').optional(),
    filename: z.string().min(1, 'expected the path of a file holding the token').optional(),
  })
  .refine((c) => (c.token === undefined) !== (c.filename === undefined), {
    message: 'set one of token or filename',
  });

export type BearerTokenAuthConfig = z.output<typeof bearerTokenAuthConfig>;
