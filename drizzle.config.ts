import { defineConfig } from 'drizzle-kit';

// Generation needs no database: drizzle-kit diffs schema.ts against migrations/meta and wrangler
// applies the SQL files (`migrations_dir` in wrangler.toml).
export default defineConfig({
  dialect: 'sqlite',
  schema: './schema/schema.ts',
  out: './migrations',
});
