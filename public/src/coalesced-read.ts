/**
 * A read that events ask for again and again (the runs list, a run's models): while one read is
 * running, further asks make one more read after it, not one each.
 */
export function coalescedRead(read: () => Promise<void>): () => Promise<void> {
  let reading: Promise<void> | null = null;
  let stale = false;
  return () => {
    if (reading) {
      stale = true;
      return reading;
    }
    reading = (async () => {
      do {
        stale = false;
        await read();
      } while (stale);
    })().finally(() => {
      reading = null;
    });
    return reading;
  };
}
