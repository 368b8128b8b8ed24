/**
 * Patience on the platform: a run that no longer improves ends 'completed' after the same
 * generation LocalSearch stops at for the same config, says so in its resource, and neither
 * duplicate messages nor an object restarted on the deciding generation move the stop (the rule
 * reads persisted state, src/wann/patience.ts).
 */
import { abortAllDurableObjects, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { decodeShard, shardToBatch } from '../../src/data/shard';
import { resolveConfig } from '../../src/wann/config';
import { RECHECK_TEST_SHARD } from '../../src/wann/generation';
import kernelModule from '../../src/wann/kernel/kernel.wasm';
import { LocalSearch } from '../../src/wann/local-search';
import { Evaluator } from '../../src/wann/network';
import type { EarlyStop } from '../../src/wann/patience';
import type { GenerationRecord } from '../../src/wann/record';
import type { Batch } from '../../src/wann/types';
import { testShardKey, trainShardKey } from '../../workers/contracts/blob-keys';
import { deliveries, faults, recheckFaults } from './entry';
import { comparable, type ErrorBody, generationRows, post, startRun, waitFor } from './helpers';

/**
 * A seed whose champion is crowned at the check of generation 2 and never again: with patience 4
 * the check of generation 6 finds no improvement for 4 generations, 7 of the 14 budgeted.
 */
const PATIENT = {
  population: 32,
  generations: 14,
  seed: 2,
  tournamentSize: 8,
  trainShards: 2,
  recheckEvery: 2,
  recheckBatches: 2,
  patience: 4,
};

async function localRun(): Promise<{ records: GenerationRecord[]; stop: EarlyStop | null }> {
  const config = resolveConfig(PATIENT, () => 0);
  const batchOf = async (key: string) =>
    shardToBatch(decodeShard(new Uint8Array(await (await env.BLOBS.get(key))!.arrayBuffer())));
  const train: Batch[] = [await batchOf(trainShardKey(0)), await batchOf(trainShardKey(1))];
  const test = await batchOf(testShardKey(RECHECK_TEST_SHARD));
  const search = new LocalSearch(config, (s) => train[s], new Evaluator({ kernel: kernelModule }), test);
  const records: GenerationRecord[] = [];
  while (search.generation < config.generations && !search.stop) records.push(search.step());
  return { records, stop: search.stop };
}

describe('patience', () => {
  it('a run stops after the generation LocalSearch stops at, completed, with the reason', async () => {
    const local = await localRun();
    expect(local.stop).toEqual({ reason: 'patience', generation: 6, patience: 4 });
    const run = await waitFor((await startRun({ ...PATIENT, sliceSize: 16 })).id);
    expect(run.status).toBe('completed');
    expect(run.generation).toBe(7);
    expect(run.generations).toBe(14);
    expect(run.stop).toEqual(local.stop);
    expect(run.config).toMatchObject({ patience: 4 });
    expect(comparable(await generationRows(run.id))).toEqual(comparable(local.records));
    // Nothing of generation 7 was ever sent.
    expect([...deliveries.keys()].some((k) => k.startsWith(`${run.id}:7:`))).toBe(false);
  });

  it('duplicates and a restart on the deciding generation give the same stop', async () => {
    const local = await localRun();
    const created = await startRun({ ...PATIENT, sliceSize: 8 });
    const copied = new Set<string>();
    faults.set(created.id, (t) => {
      const key = `${t.gen}:${t.sliceStart}`;
      if (copied.has(key)) return 'deliver';
      copied.add(key);
      return 'duplicate';
    });
    // Hold generation 6's re-check, restart the object while it waits, then let it through.
    let hold = true;
    recheckFaults.set(created.id, (t) => (hold && t.gen === 6 ? 'drop' : 'deliver'));
    await waitFor(created.id, (r) => r.generation === 6);
    const stub = env.COORD.get(env.COORD.idFromName(created.id));
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as { marker: number }).marker = 1;
    });
    await abortAllDurableObjects();
    hold = false;
    const run = await waitFor(created.id);
    expect(run.status).toBe('completed');
    expect(run.stop).toEqual(local.stop);
    expect(run.generation).toBe(7);
    expect(comparable(await generationRows(run.id))).toEqual(comparable(local.records));
  });

  it('a run without patience has no stop field, and a bad patience is a clear 400', async () => {
    const run = await waitFor(
      (await startRun({ ...PATIENT, patience: 0, generations: 3, sliceSize: 32 })).id,
    );
    expect(run.status).toBe('completed');
    expect(run).not.toHaveProperty('stop');
    expect(run.config).not.toHaveProperty('patience');
    for (const patience of [-1, 2.5, 'ten']) {
      const res = await post('/api/runs', { ...PATIENT, patience });
      expect(res.status).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe('invalid_config');
      expect(body.error.message).toMatch(/^patience: /);
    }
  });
});
