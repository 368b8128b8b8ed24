/** The README's budgeted-search block carries the linear baseline's row when one is recorded. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type SearchSummary, searchReadmeBlock } from '../../node/search-readme';

const summary = JSON.parse(readFileSync('bench/results/search.json', 'utf8')) as SearchSummary;

describe('search README block', () => {
  it('has the baseline row beside the WANN figures when a baseline is recorded', () => {
    const block = searchReadmeBlock(summary, {
      learningRate: 0.003,
      batchSize: 128,
      platformDefaultEpochs: 10,
      summary: [
        { epochs: 1, testAccuracy: 0.9238 },
        { epochs: 5, testAccuracy: 0.9433 },
        { epochs: 10, testAccuracy: 0.9455 },
        { epochs: 30, testAccuracy: 0.9458 },
      ],
    });
    const rows = block.split('\n');
    const trained = rows.findIndex((r) => r.startsWith('| trained individual weights |'));
    expect(rows[trained + 1]).toBe(
      "| single layer, softmax regression (our shards) | - | 94.58 % (Adam lr 0.003, batch 128, 30 epochs; 94.55 % after 10 (the platform's default), 92.38 % after 1; `npm run bench:baseline`, `bench/results/baseline.json`) |",
    );
  });

  it('names the epoch count chosen on validation when the record has one', () => {
    const block = searchReadmeBlock(summary, {
      learningRate: 0.003,
      batchSize: 128,
      chosenEpoch: 12,
      validationAccuracy: 0.9501,
      testAccuracy: 0.9452,
    });
    expect(block).toContain(
      '| single layer, softmax regression (our shards) | - | 94.52 % (Adam lr 0.003, batch 128, 12 epochs chosen on a validation split of the training shards, where it scores 95.01 %;',
    );
  });

  it('has no baseline row when none is recorded', () => {
    expect(searchReadmeBlock(summary, null)).not.toContain('softmax regression');
  });
});
