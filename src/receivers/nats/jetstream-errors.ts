/**
 * Whether a JetStream write failed its compare-and-set: the subject's (or KV key's) last
 * sequence was not the one the write expected, or the key existed (`create`).
 */
export function isWrongLastSequence(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  // 10071: wrong last sequence.
  return e?.api_error?.err_code === 10071 || /wrong last sequence/i.test(e?.message ?? '');
}

/** Whether a JetStream request failed because what it asked for is not there (a message). */
export function isNotFound(err: unknown): boolean {
  return String((err as { code?: unknown })?.code) === '404';
}
