/**
 * Evaluator Worker: consumes the evaluation queue. For each message it evaluates one slice of a
 * generation and reports the results to the run's SearchCoordinator over Durable Object RPC.
 * Queues deliver at least once; the coordinator ignores duplicates, so retrying is always safe.
 *
 * Peers (local only, by configuration): one workerd process runs all its JavaScript on one
 * thread, so locally `npm start` runs K evaluator processes ("peers", K = cores) that the local
 * configuration binds as `EVAL_PEER_1…4` (service bindings to `SliceEvaluator`, through the dev
 * registry). The consumer uses the peers that answer: it hands the batch's slices to them, each
 * busy with one slice at a time, and evaluates nothing itself. Without peer bindings (deployed)
 * or with none running (`npm run dev`), it evaluates every slice itself; deployed, parallelism
 * comes from concurrent consumer invocations. A peer that fails is dropped and its slice evaluated
 * here: peers change speed, never results.
 */
import { WorkerEntrypoint } from 'cloudflare:workers';
import type { GenomeResult } from '../../src/wann/types';
import type { SearchCoordinator } from '../coordinator/search-coordinator';
import { type SliceTask, sliceTaskSchema } from '../shared/contracts';
import {
  type EvaluatorBindings,
  evaluateSlice,
  evaluateSliceInputs,
  loadSliceInputs,
  PermanentTaskError,
  type SliceInputs,
  StaleTaskError,
} from './evaluate-slice';

/** Peer service bindings the local configuration may declare (workers/evaluator/wrangler.toml). */
const PEER_BINDINGS = ['EVAL_PEER_1', 'EVAL_PEER_2', 'EVAL_PEER_3', 'EVAL_PEER_4'] as const;

type PeerBinding = Service<SliceEvaluator>;

export interface EvaluatorEnv extends EvaluatorBindings {
  /** The main Worker's SearchCoordinator class (`script_name` binding). */
  COORD: DurableObjectNamespace<SearchCoordinator>;
  EVAL_PEER_1?: PeerBinding;
  EVAL_PEER_2?: PeerBinding;
  EVAL_PEER_3?: PeerBinding;
  EVAL_PEER_4?: PeerBinding;
}

/** A peer evaluator process's entry point: evaluate one slice from the inputs it is sent. */
export class SliceEvaluator extends WorkerEntrypoint {
  ping(): string {
    return 'ok';
  }

  evaluate(task: SliceTask, inputs: SliceInputs): GenomeResult[] {
    return evaluateSliceInputs(task, inputs);
  }
}

/** Per isolate: which peer bindings answered, and when an unanswered one may be asked again. */
const peerState = new Map<string, { healthy: boolean; retryAt: number }>();
const PEER_PROBE_MS = 2_000;
const PEER_RETRY_MS = 30_000;

function markPeer(name: string, healthy: boolean): void {
  peerState.set(name, { healthy, retryAt: Date.now() + PEER_RETRY_MS });
}

/** The declared peers that answer a ping (probed again at most every PEER_RETRY_MS). */
async function livePeers(env: EvaluatorEnv): Promise<{ name: string; peer: PeerBinding }[]> {
  const declared = PEER_BINDINGS.flatMap((name) => (env[name] ? [{ name, peer: env[name] }] : []));
  const now = Date.now();
  await Promise.all(
    declared.map(async ({ name, peer }) => {
      const known = peerState.get(name);
      if (known && (known.healthy || known.retryAt > now)) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer')), PEER_PROBE_MS);
      });
      try {
        const ok = (await Promise.race([peer.ping(), timeout])) === 'ok';
        markPeer(name, ok);
        if (ok) console.log(`evaluator: peer ${name} answers; slices go to the peers`);
      } catch {
        markPeer(name, false);
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return declared.filter(({ name }) => peerState.get(name)?.healthy);
}

type Evaluate = (task: SliceTask) => Promise<GenomeResult[]>;

async function handle(message: Message<unknown>, env: EvaluatorEnv, evaluate: Evaluate): Promise<void> {
  const parsed = sliceTaskSchema.safeParse(message.body);
  if (!parsed.success) {
    // Not ours to interpret; retrying would fail the same way.
    console.error(`evaluator: dropping malformed message ${message.id}: ${parsed.error.message}`);
    message.ack();
    return;
  }
  const task: SliceTask = parsed.data;
  const coordinator = env.COORD.get(env.COORD.idFromName(task.runId));
  try {
    const results = await evaluate(task);
    await coordinator.report(task.gen, task.sliceStart, results);
    message.ack();
  } catch (e) {
    if (e instanceof StaleTaskError) {
      message.ack();
    } else if (e instanceof PermanentTaskError) {
      try {
        await coordinator.reportError(task.gen, e.message);
        message.ack();
      } catch {
        message.retry({ delaySeconds: 1 });
      }
    } else {
      // Transient (R2 or the coordinator unavailable, the object restarting): let the queue retry;
      // if it gives up, the coordinator's alarm re-sends the slice.
      console.error(`evaluator: ${task.runId} gen ${task.gen} slice ${task.sliceStart}: ${String(e)}`);
      message.retry({ delaySeconds: 1 });
    }
  }
}

/** Evaluate on a peer; if the peer fails, here (and the peer is dropped until it answers again). */
function viaPeer(env: EvaluatorEnv, name: string, peer: PeerBinding): Evaluate {
  return async (task) => {
    const inputs = await loadSliceInputs(env, task);
    if (peerState.get(name)?.healthy) {
      try {
        return await peer.evaluate(task, inputs);
      } catch (e) {
        markPeer(name, false);
        console.error(`evaluator: peer ${name} failed (${String(e)}); evaluating here instead`);
      }
    }
    return evaluateSliceInputs(task, inputs);
  };
}

export async function consumeSlices(messages: readonly Message<unknown>[], env: EvaluatorEnv): Promise<void> {
  const peers = await livePeers(env);
  if (peers.length === 0) {
    // Sequential on purpose: evaluation is CPU-bound, and consecutive slices share cached blobs.
    const local: Evaluate = (task) => evaluateSlice(env, task);
    for (const message of messages) await handle(message, env, local);
    return;
  }
  // One lane per peer, each taking the next message when its slice is done.
  let next = 0;
  await Promise.all(
    peers.map(async ({ name, peer }) => {
      const evaluate = viaPeer(env, name, peer);
      while (next < messages.length) await handle(messages[next++], env, evaluate);
    }),
  );
}

export default {
  async queue(batch, env) {
    await consumeSlices(batch.messages, env);
  },
} satisfies ExportedHandler<EvaluatorEnv, unknown>;
