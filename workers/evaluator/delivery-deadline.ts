/**
 * A queue delivery that never settles holds its queue: locally the broker delivers one batch at a
 * time per queue and waits for it, so one await that never answers (an R2 call, a D1 query, a
 * `send`, the coordinator's or a peer's RPC) would stop every run's work behind it. Each message's
 * handling is raced against a deadline; past it, the message is retried and the consumer goes on.
 * A late finish of the abandoned handling is harmless: every task is idempotent (reports are kept
 * once per slice, training steps move by compare-and-set).
 */

/** 'settled': `work` ended (its own acking done); 'late': the deadline came first. */
export async function settleWithin(work: Promise<void>, deadlineMs: number): Promise<'settled' | 'late'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), deadlineMs);
  });
  try {
    return await Promise.race([work.then(() => 'settled' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `work`'s value, or a rejection once `deadlineMs` has passed without it. */
export async function answerWithin<T>(work: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs / 1000} s`)), deadlineMs);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
