// Formatting (src/format.js): what the room reads, in vi-VN (81,71%) and en-GB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fmt from '../../src/format.js';

test('percentages have two decimals, a decimal comma in Vietnamese', () => {
  assert.equal(fmt.percent('vi', 0.8171), '81,71%');
  assert.equal(fmt.percent('en', 0.8171), '81.71%');
  assert.equal(fmt.percent('vi', 0.5), '50,00%');
  assert.equal(fmt.percent('vi', 1), '100,00%');
  assert.equal(fmt.percent('vi', 0.123456), '12,35%');
  assert.equal(fmt.percent('vi', 0), '0,00%');
});

test('a share just under or over a whole, or just above none, never reads as 100% or 0%', () => {
  assert.equal(fmt.percent('vi', 0.99996), '99,99%');
  assert.equal(fmt.percent('en', 0.999951), '99.99%');
  assert.equal(fmt.percent('en', 0.99994), '99.99%');
  assert.equal(fmt.percent('vi', 0.00004), '0,01%');
  assert.equal(fmt.percent('en', 0.000051), '0.01%');
  assert.equal(fmt.percent('en', 1), '100.00%');
  assert.equal(fmt.percent('en', 0), '0.00%');
  assert.equal(fmt.percent('en', 1.2), '120.00%');
  assert.equal(fmt.percent('vi', 1.00004), '100,01%');
  assert.equal(fmt.percent('en', 1.000049), '100.01%');
});

test('chart labels in percent points keep the same care at the ends, one decimal', () => {
  assert.equal(fmt.percentPoints('vi', 99.996), '99,9%');
  assert.equal(fmt.percentPoints('en', 0.004), '0.1%');
  assert.equal(fmt.percentPoints('en', 100.004), '100.1%');
  assert.equal(fmt.percentPoints('en', 81.71), '81.7%');
  assert.equal(fmt.percentPoints('en', 100), '100.0%');
  assert.equal(fmt.percentPoints('en', 0), '0.0%');
  assert.equal(fmt.percentPoints('en', null), '–');
});

test('a missing percentage is a dash', () => {
  assert.equal(fmt.percent('vi', null), '–');
  assert.equal(fmt.percent('en', undefined), '–');
});

test('numbers group thousands with a dot in Vietnamese and a comma in English', () => {
  assert.equal(fmt.number('vi', 1234567), '1.234.567');
  assert.equal(fmt.number('en', 1234567), '1,234,567');
  assert.equal(fmt.number('vi', 1234), '1.234');
  assert.equal(fmt.number('vi', 1234.56, 1), '1.234,6');
  assert.equal(fmt.number('en', 1234.56, 1), '1,234.6');
  assert.equal(fmt.number('vi', 3, 2), '3,00');
  assert.equal(fmt.number('en', 12.34), '12');
  assert.equal(fmt.number('vi', null), '–');
  assert.equal(fmt.number('en', undefined, 1), '–');
});

test('the headline of each indicator kind', () => {
  assert.equal(fmt.headline('vi', { kind: 'ratio', numerator: 8171, denominator: 10000, ratio: 0.8171 }), '81,71%');
  assert.equal(fmt.headline('en', { kind: 'ratio', numerator: 8171, denominator: 10000, ratio: 0.8171 }), '81.71%');
  assert.equal(fmt.headline('vi', { kind: 'ratio', numerator: 0, denominator: 0, ratio: null }), '–');
  // A count shows its numerator, whatever the ratio.
  assert.equal(fmt.headline('vi', { kind: 'count', numerator: 12345, denominator: 20000, ratio: 0.61725 }), '12.345');
  assert.equal(fmt.headline('en', { kind: 'count', numerator: 12345, denominator: null, ratio: null }), '12,345');
  // An average in seconds shows hours: 5400 s is an hour and a half.
  assert.equal(fmt.headline('vi', { kind: 'average_seconds', numerator: 54000, denominator: 10, ratio: 5400 }), '1,5 h');
  assert.equal(fmt.headline('en', { kind: 'average_seconds', numerator: 54000, denominator: 10, ratio: 5400 }), '1.5 h');
  assert.equal(fmt.headline('en', { kind: 'average_seconds', numerator: 0, denominator: 0, ratio: null }), '–');
  assert.equal(fmt.headline('vi', undefined), '–');
  assert.equal(fmt.headline('vi', null), '–');
});

test('charts plot ratios in percent, averages in hours and counts as they are', () => {
  assert.equal(fmt.plotted({ kind: 'ratio', numerator: 1, denominator: 4, ratio: 0.25 }), 25);
  assert.equal(fmt.plotted({ kind: 'average_seconds', numerator: 54000, denominator: 10, ratio: 5400 }), 1.5);
  assert.equal(fmt.plotted({ kind: 'count', numerator: 7, denominator: 10, ratio: 0.7 }), 7);
  assert.equal(fmt.plotted({ kind: 'count', numerator: 0, denominator: 0, ratio: null }), 0);
  assert.equal(fmt.plotted({ kind: 'ratio', numerator: 0, denominator: 0, ratio: null }), null);
  assert.equal(fmt.plotted({ kind: 'average_seconds', numerator: 0, denominator: 0, ratio: null }), null);
  assert.equal(fmt.plotted(undefined), null);
});

test('durations in minutes, then hours below two days, then days', () => {
  assert.equal(fmt.duration('vi', 0), '0 phút');
  assert.equal(fmt.duration('en', 1500), '25 min');
  assert.equal(fmt.duration('en', 3540), '59 min');
  // 3599 s rounds to 60 minutes, so it is told in hours.
  assert.equal(fmt.duration('vi', 3599), '1,0 giờ');
  assert.equal(fmt.duration('en', 5400), '1.5 h');
  assert.equal(fmt.duration('en', 172799), '48.0 h');
  assert.equal(fmt.duration('vi', 172800), '2,0 ngày');
  assert.equal(fmt.duration('en', 259200), '3.0 days');
  assert.equal(fmt.duration('vi', null), '–');
  assert.equal(fmt.duration('en', undefined), '–');
});

test('dates are days of the calendar, not shifted by a time zone', () => {
  assert.equal(fmt.date('vi', '2026-05-07'), '7/5/2026');
  assert.equal(fmt.date('en', '2026-05-07'), '07/05/2026');
  assert.equal(fmt.date('en', '2026-12-31'), '31/12/2026');
  assert.equal(fmt.date('en', '2027-01-01'), '01/01/2027');
});

test('times are told in the province (UTC+7)', () => {
  assert.equal(fmt.time('en', new Date('2026-05-07T17:30:00Z')), '08/05/2026, 00:30:00');
  assert.equal(fmt.time('en', new Date('2026-05-07T03:04:05Z')), '07/05/2026, 10:04:05');
});

test("today is the province's day, which starts at 17:00 UTC", () => {
  assert.equal(fmt.today(new Date('2026-05-07T16:59:59Z')), '2026-05-07');
  assert.equal(fmt.today(new Date('2026-05-07T17:00:00Z')), '2026-05-08');
  assert.equal(fmt.today(new Date('2026-12-31T17:00:00Z')), '2027-01-01');
  assert.match(fmt.today(), /^\d{4}-\d{2}-\d{2}$/);
});
