/**
 * Main Worker: the HTTP API (Hono) and the SearchCoordinator Durable Object class, which must be
 * exported from the Worker that declares it.
 */
import { app } from './app';
import type { Env } from './env';

export { SearchCoordinator } from '../coordinator/search-coordinator';
export { RunsFeed } from '../runs-feed/runs-feed';

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
