/**
 * Waits for `promise` to settle (its rejection ignored), or `ms`, whichever comes first: for
 * shutdown steps that must not keep a process from exiting. The timer does not hold the
 * process open and is cleared once the promise settles.
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
