/** Reading Server-Sent Events from a response body, event by event, as a client would. */

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

export interface SseReader {
  /** The next event, or null once the server has closed the stream. */
  next(): Promise<SseEvent | null>;
  /** Every event until the server closes the stream. */
  rest(): Promise<SseEvent[]>;
  /** Close from the client's side (like closing the tab). */
  close(): Promise<void>;
}

export function readSse(res: Response): SseReader {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = false;
  const next = async (): Promise<SseEvent | null> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue; // comments (`: keep-alive`) and blank lines
          fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
        }
        if (fields.data === undefined) continue; // `retry:` and other field-only blocks
        return { event: fields.event ?? 'message', id: fields.id, data: fields.data };
      }
      if (done) return null;
      const chunk = await reader.read();
      if (chunk.done) done = true;
      else buffer += decoder.decode(chunk.value, { stream: true });
    }
  };
  return {
    next,
    async rest() {
      const events: SseEvent[] = [];
      for (let e = await next(); e; e = await next()) events.push(e);
      return events;
    },
    async close() {
      await reader.cancel().catch(() => {});
    },
  };
}
