// The heat grid's legend says in words what its colours show: brighter is higher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAT_COLOURS, luminance } from '../../src/palette.js';
import { STRINGS } from '../../src/i18n.js';

test('each colour of the heat grid, lowest value first, is brighter than the one before', () => {
  for (let i = 1; i < HEAT_COLOURS.length; i += 1) {
    assert.ok(
      luminance(HEAT_COLOURS[i]) > luminance(HEAT_COLOURS[i - 1]),
      `${HEAT_COLOURS[i]} (for higher values) is not brighter than ${HEAT_COLOURS[i - 1]}`,
    );
  }
});

test('luminance reads black, white and a grey as WCAG does', () => {
  assert.equal(luminance('#000000'), 0);
  assert.equal(luminance('#ffffff'), 1);
  assert.ok(Math.abs(luminance('#777777') - 0.1845) < 0.001);
});

test('the grid note says brighter means higher, in both languages', () => {
  assert.match(STRINGS.en.gridNote, /brighter the cell, the higher the value/);
  assert.match(STRINGS.vi.gridNote, /càng sáng, giá trị càng cao/);
  assert.doesNotMatch(STRINGS.en.gridNote, /darker/);
  assert.doesNotMatch(STRINGS.vi.gridNote, /đậm/);
});
