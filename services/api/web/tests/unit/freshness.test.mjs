// What the banner says about the rollups (src/freshness.js), from GET /v1/pipeline's sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rollupLag, STALE_AFTER_SECONDS } from '../../src/freshness.js';

const NOW = Date.parse('2026-12-03T10:00:00+07:00');
const at = (secondsAgo) => new Date(NOW - secondsAgo * 1000).toISOString();
const source = (name, coveredSecondsAgo) => ({
  source: name,
  rollup_covered_until: coveredSecondsAgo === null ? null : at(coveredSecondsAgo),
});

test('every source rolled up within the limit: nothing to say', () => {
  const lag = rollupLag([source('portal', 5), source('edoc', 8), source('training', STALE_AFTER_SECONDS)], NOW);
  assert.deepEqual(lag, { neverRolledUp: [], staleSince: null });
});

test('the oldest source past the limit dates the staleness', () => {
  const lag = rollupLag([source('portal', 5), source('edoc', STALE_AFTER_SECONDS + 1), source('training', 900)], NOW);
  assert.deepEqual(lag.neverRolledUp, []);
  assert.equal(lag.staleSince.getTime(), NOW - 900_000);
});

test('a source never rolled up is named, even while the others are live', () => {
  const lag = rollupLag([source('portal', 5), source('edoc', 8), source('training', null)], NOW);
  assert.deepEqual(lag, { neverRolledUp: ['training'], staleSince: null });
});

test('a fresh deployment names every source, and nothing is stale yet', () => {
  const lag = rollupLag([source('portal', null), source('edoc', null), source('training', null)], NOW);
  assert.deepEqual(lag, { neverRolledUp: ['portal', 'edoc', 'training'], staleSince: null });
});
