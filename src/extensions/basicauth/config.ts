import { z } from 'zod';

/**
 * `basicauth` (the Collector's keys): `htpasswd` (a file, read again when it changes, and/or
 * inline lines) for receivers to check, `client_auth` for exporters to send.
 */
export const basicAuthConfig = z
  .strictObject({
    htpasswd: z
      .strictObject({
        file: z.string().min(1, 'expected the path of an htpasswd file').optional(),
        inline: z.string().optional(),
      })
      .refine((h) => h.file !== undefined || h.inline !== undefined, {
        message: 'set htpasswd.file or htpasswd.inline',
      })
      .optional(),
    client_auth: z
      .strictObject({
        username: z
          .string()
          .min(1)
          .refine((name) => !name.includes(':'), {
            message: 'a basic auth username cannot contain ":"',
          }),
        password: z.string(),
      })
      .optional(),
  })
  .refine((c) => c.htpasswd !== undefined || c.client_auth !== undefined, {
    message: 'set htpasswd (to check clients) or client_auth (to send credentials), or both',
  });

export type BasicAuthConfig = z.output<typeof basicAuthConfig>;
