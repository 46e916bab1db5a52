// How a tile judges a value against its goal and words its change (src/sections/goal.js).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { goal, status, trendText } from '../../src/sections/goal.js';
import { state } from '../../src/state.js';

const ratio = (numerator, denominator, target = null) => ({
  kind: 'ratio',
  numerator,
  denominator,
  ratio: denominator === 0 ? null : numerator / denominator,
  target,
  progress: target === null || denominator === 0 ? null : numerator / denominator / target,
  target_source: target === null ? null : 'the plan',
  threshold: null,
  threshold_source: null,
});
// As the API serves them: a count has no denominator, ratio or progress.
const count = (numerator) => ({ ...ratio(numerator, 1), kind: 'count', denominator: null, ratio: null, progress: null });
const average = (seconds) => ({ ...ratio(seconds, 1), kind: 'average_seconds' });

beforeEach(() => {
  state.lang = 'en';
});

test('a value with a target is met, near or far by its progress', () => {
  assert.equal(status(ratio(10, 10, 1)), 'met');
  assert.equal(status(ratio(95, 100, 1)), 'near');
  assert.equal(status(ratio(5, 10, 1)), 'far');
  assert.match(goal(ratio(5, 10, 1)).text, /Far from target/);
});

test('a target with nothing counted yet is not far from it', () => {
  const empty = ratio(0, 0, 1);
  assert.equal(status(empty), 'none');
  assert.match(goal(empty).text, /No data yet/);
  assert.doesNotMatch(goal(empty).text, /Far/);
});

test('a count shows how it moved since the previous period', () => {
  assert.match(trendText(count(12), count(10)), /▲ 2 /);
  assert.match(trendText(count(7), count(10)), /▼ 3 /);
  assert.equal(trendText(count(7), null), '');
});

test('a ratio shows its change in points, and nothing without both ratios', () => {
  assert.match(trendText(ratio(6, 10), ratio(5, 10)), /▲ 10\.00 pp/);
  assert.equal(trendText(ratio(6, 10), ratio(0, 0)), '');
});

test('an average shows its change in hours, not in points', () => {
  assert.match(trendText(average(7 * 3600), average(5 * 3600)), /▲ 2\.0 h /);
  assert.doesNotMatch(trendText(average(7 * 3600), average(5 * 3600)), /pp/);
});
