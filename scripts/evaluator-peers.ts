/**
 * How many evaluator peer processes `npm start` runs, and the evaluator configuration that binds
 * them. Pure: scripts/start.ts gives it the machine (cores, memory) and writes the result.
 *
 * Each peer is one workerd process (one JavaScript thread) holding the evaluator bundle and its wasm
 * kernel: ~70 MB resident when started (measured: Node 20, workerd of miniflare 4, 2026-12), plus
 * one slice's inputs and members while it evaluates (a shard of 1,000 images and ≤ 64 genomes: a
 * few MB). The peers share nothing, so K peers cost about K times that.
 */

/** A peer's resident memory budget: the ~70 MB measured, with room for a slice and the GC's slack. */
export const PEER_RSS_BYTES = 256 * 1024 * 1024;
/** Share of the machine's memory the peers together may take. */
export const PEER_MEMORY_SHARE = 0.5;

export interface PeerMachine {
  /** `os.availableParallelism()`. */
  cores: number;
  /** `os.totalmem()`. */
  totalMemoryBytes: number;
}

/**
 * The evaluator processes to run: `requested` (`--evaluators K` or WANN_EVALUATORS) when given,
 * else one per core. The consumer's own work (storage, reports, the coordinator) comes between a
 * generation's evaluations, not during them, so holding a core back for it would leave that core
 * idle while the slices run. Never more than half the memory allows, so a big K (or a small
 * machine) cannot push the platform into swap. 1 means no peers: the consumer evaluates itself.
 */
export function evaluatorCount(requested: number | undefined, machine: PeerMachine): number {
  const wanted =
    requested !== undefined && Number.isFinite(requested) && requested >= 1
      ? Math.floor(requested)
      : Math.max(1, Math.floor(machine.cores));
  const byMemory = Math.max(1, Math.floor((machine.totalMemoryBytes * PEER_MEMORY_SHARE) / PEER_RSS_BYTES));
  return Math.max(1, Math.min(wanted, byMemory));
}

/** Peer processes for `evaluators`: none for one (the consumer evaluates), else one each. */
export function peerCountOf(evaluators: number): number {
  return evaluators >= 2 ? evaluators : 0;
}

const PEER_BLOCK =
  /^\[\[services\]\]\nbinding = "EVAL_PEER_\d+"\nservice = "wann-evaluator-peer-\d+"\nentrypoint = "SliceEvaluator"\n\n?/gm;

/**
 * The evaluator's wrangler.toml for `npm start` with `peers` peer bindings (EVAL_PEER_1…K) in place
 * of the checked-in four, for a file one folder below it (`workers/evaluator/.wrangler/`, ignored by
 * git and by start.ts's source watcher): its relative paths get one more `../`.
 */
export function evaluatorConfigWithPeers(toml: string, peers: number): string {
  const production = toml.search(/^\[env\.production\]$/m);
  if (production < 0) throw new Error('the evaluator config has no [env.production] section');
  const local = toml.slice(0, production).replace(PEER_BLOCK, '');
  const blocks = Array.from(
    { length: peers },
    (_, i) =>
      `[[services]]\nbinding = "EVAL_PEER_${i + 1}"\nservice = "wann-evaluator-peer-${i + 1}"\nentrypoint = "SliceEvaluator"\n\n`,
  ).join('');
  return `${local}${blocks}${toml.slice(production)}`.replace(
    /^(\s*(?:main|migrations_dir)\s*=\s*")(?![/])([^"]+")/gm,
    '$1../$2',
  );
}
