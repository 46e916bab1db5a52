// URL state (src/state.js): the hash is how a link shares a view, so it must read back as written
// and a mistyped one must still open a dashboard.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { formatHash, hashFor, navigate, parseHash, readHash, state } from '../../src/state.js';

const DEFAULTS = { unit: null, lang: 'vi', period: 'month', bucket: 'day', indicator: null, refreshSeconds: 30 };

// readHash, hashFor and navigate use the browser's location; a plain object stands in for it.
beforeEach(() => {
  globalThis.location = { hash: '' };
  Object.assign(state, { lang: 'vi', period: 'month', indicator: 'online_submission_rate', bucket: 'day', unit: null, refreshSeconds: 30 });
});

test('the hash of the default view, without the default refresh', () => {
  const view = { lang: 'vi', period: 'month', indicator: 'online_submission_rate', bucket: 'day', unit: null, refreshSeconds: 30 };
  assert.equal(formatHash(view), '#/?lang=vi&period=month&indicator=online_submission_rate&bucket=day');
});

test('the hash of a unit, with every parameter set', () => {
  const view = { lang: 'en', period: 'quarter', indicator: 'fully_online_rate', bucket: 'week', unit: '25111', refreshSeconds: 60 };
  assert.equal(formatHash(view), '#/unit/25111?lang=en&period=quarter&indicator=fully_online_rate&bucket=week&refresh=60');
});

test('a unit code is escaped in the path', () => {
  const view = { lang: 'vi', period: 'year', indicator: 'on_time_rate', bucket: 'month', unit: 'a b/c', refreshSeconds: 30 };
  assert.equal(formatHash(view), '#/unit/a%20b%2Fc?lang=vi&period=year&indicator=on_time_rate&bucket=month');
});

test('an empty hash is the default view', () => {
  assert.deepEqual(parseHash(''), DEFAULTS);
  assert.deepEqual(parseHash('#'), DEFAULTS);
  assert.deepEqual(parseHash('#/'), DEFAULTS);
});

test('a full hash reads back every parameter', () => {
  assert.deepEqual(parseHash('#/unit/25111?lang=en&period=year&indicator=on_time_rate&bucket=month&refresh=5'), {
    unit: '25111',
    lang: 'en',
    period: 'year',
    bucket: 'month',
    indicator: 'on_time_rate',
    refreshSeconds: 5,
  });
  assert.equal(parseHash('#/unit/a%20b%2Fc?lang=vi').unit, 'a b/c');
});

test('values it does not know fall back to the defaults', () => {
  assert.deepEqual(parseHash('#/?lang=fr&period=week&bucket=year&refresh=0'), DEFAULTS);
  assert.equal(parseHash('#/?lang=EN').lang, 'vi');
  assert.equal(parseHash('#/?period=').period, 'month');
  assert.equal(parseHash('#/?indicator=').indicator, null);
});

test('refresh is kept from 1 to 3600 seconds, else 30', () => {
  assert.equal(parseHash('#/?refresh=1').refreshSeconds, 1);
  assert.equal(parseHash('#/?refresh=3600').refreshSeconds, 3600);
  assert.equal(parseHash('#/?refresh=3601').refreshSeconds, 30);
  assert.equal(parseHash('#/?refresh=0').refreshSeconds, 30);
  assert.equal(parseHash('#/?refresh=-5').refreshSeconds, 30);
  assert.equal(parseHash('#/?refresh=abc').refreshSeconds, 30);
  assert.equal(parseHash('#/?refresh=').refreshSeconds, 30);
});

test('only /unit/<code> names a unit', () => {
  assert.equal(parseHash('#/unit/?lang=en').unit, null);
  assert.equal(parseHash('#/unit/25111/extra?lang=en').unit, null);
  assert.equal(parseHash('#/units/25111?lang=en').unit, null);
  assert.equal(parseHash('#unit/25111').unit, null);
  assert.equal(parseHash('#/unit/25111').unit, '25111');
});

test('every view reads back as it was written', () => {
  const views = [
    { unit: null, lang: 'vi', period: 'month', bucket: 'day', indicator: 'online_submission_rate', refreshSeconds: 30 },
    { unit: '25111', lang: 'en', period: 'quarter', bucket: 'week', indicator: 'household_coverage', refreshSeconds: 2 },
    { unit: 'Sở Nội vụ & co', lang: 'en', period: 'year', bucket: 'month', indicator: 'on_time_rate', refreshSeconds: 3600 },
  ];
  for (const view of views) assert.deepEqual(parseHash(formatHash(view)), view);
});

test('readHash puts the hash in the state; hashFor changes one thing in it', () => {
  location.hash = '#/unit/25111?lang=en&period=year&indicator=on_time_rate&bucket=week&refresh=60';
  readHash();
  assert.equal(state.unit, '25111');
  assert.equal(state.lang, 'en');
  assert.equal(state.period, 'year');
  assert.equal(state.indicator, 'on_time_rate');
  assert.equal(state.bucket, 'week');
  assert.equal(state.refreshSeconds, 60);
  assert.equal(hashFor(), '#/unit/25111?lang=en&period=year&indicator=on_time_rate&bucket=week&refresh=60');
  assert.equal(hashFor({ unit: null }), '#/?lang=en&period=year&indicator=on_time_rate&bucket=week&refresh=60');
  assert.equal(hashFor({ indicator: 'fully_online_rate' }), '#/unit/25111?lang=en&period=year&indicator=fully_online_rate&bucket=week&refresh=60');
});

test('a hash without an indicator keeps the one on screen, and resets the rest', () => {
  location.hash = '#/?indicator=household_coverage&lang=en&refresh=10';
  readHash();
  location.hash = '#/';
  readHash();
  assert.equal(state.indicator, 'household_coverage');
  assert.equal(state.lang, 'vi');
  assert.equal(state.refreshSeconds, 30);
});

test('navigate writes the hash of the changed view', () => {
  navigate({ period: 'quarter' });
  assert.equal(location.hash, '#/?lang=vi&period=quarter&indicator=online_submission_rate&bucket=day');
  navigate({ unit: '25003', lang: 'en' });
  assert.equal(location.hash, '#/unit/25003?lang=en&period=month&indicator=online_submission_rate&bucket=day');
  // navigate does not change the state: the hashchange handler reads it back.
  assert.equal(state.lang, 'vi');
});
