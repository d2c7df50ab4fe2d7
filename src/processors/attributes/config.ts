import { z } from 'zod';

const action = z
  .strictObject({
    key: z.string().min(1),
    action: z.enum(['insert', 'update', 'upsert', 'delete', 'hash']),
    value: z.union([z.string(), z.number(), z.boolean()]).optional(),
    from_attribute: z.string().optional(),
  })
  .refine(
    (a) =>
      !['insert', 'update', 'upsert'].includes(a.action) ||
      a.value !== undefined ||
      a.from_attribute !== undefined,
    {
      message: 'insert, update and upsert need value or from_attribute',
    },
  );

/** The Collector's `attributes` (point attributes) and `resource` (resource attributes) processors. */
export const attributesConfig = z.strictObject({
  actions: z.array(action).min(1, 'list at least one action'),
});
export type AttributesConfig = z.infer<typeof attributesConfig>;
export type AttributeAction = z.infer<typeof action>;
