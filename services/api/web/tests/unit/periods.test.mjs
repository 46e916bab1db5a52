// Period arithmetic (src/periods.js): what the dashboard asks the API for, on dates whose answers
// were worked out by hand with a calendar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, isoWeek, lastWeek, periods } from '../../src/periods.js';

test('addDays crosses month, leap-day and year ends', () => {
  assert.equal(addDays('2024-02-28', 1), '2024-02-29');
  assert.equal(addDays('2026-02-28', 1), '2026-03-01');
  assert.equal(addDays('2026-03-01', -1), '2026-02-28');
  assert.equal(addDays('2026-12-31', 1), '2027-01-01');
  assert.equal(addDays('2026-05-18', -89), '2026-02-18');
  assert.equal(addDays('2026-05-18', 0), '2026-05-18');
});

test('month to date, and the same number of days before it', () => {
  assert.deepEqual(periods('month', '2026-05-20'), {
    from: '2026-05-01',
    to: '2026-05-20',
    label: '2026-05',
    previous: { from: '2026-04-11', to: '2026-04-30' },
  });
});

test('on the first of a month the period is one day, and so is the previous one', () => {
  assert.deepEqual(periods('month', '2026-01-01'), {
    from: '2026-01-01',
    to: '2026-01-01',
    label: '2026-01',
    previous: { from: '2025-12-31', to: '2025-12-31' },
  });
});

test('the previous period of a month reaches back over a leap day', () => {
  // 31 days of March 2024; the 31 days before it are 30 January to 29 February.
  assert.deepEqual(periods('month', '2024-03-31').previous, { from: '2024-01-30', to: '2024-02-29' });
});

test('quarter to date', () => {
  // 1 April to 20 May is 30 + 20 = 50 days; the 50 before it are 10 February to 31 March.
  assert.deepEqual(periods('quarter', '2026-05-20'), {
    from: '2026-04-01',
    to: '2026-05-20',
    label: '2026-Q2',
    previous: { from: '2026-02-10', to: '2026-03-31' },
  });
});

test('year to date', () => {
  // 1 January to 1 March 2026 is 31 + 28 + 1 = 60 days; the 60 before it start on 2 November.
  assert.deepEqual(periods('year', '2026-03-01'), {
    from: '2026-01-01',
    to: '2026-03-01',
    label: '2026',
    previous: { from: '2025-11-02', to: '2025-12-31' },
  });
});

test('ranking labels name the month, the quarter or the year', () => {
  assert.equal(periods('month', '2026-12-31').label, '2026-12');
  assert.equal(periods('quarter', '2026-01-01').label, '2026-Q1');
  assert.equal(periods('quarter', '2026-03-31').label, '2026-Q1');
  assert.equal(periods('quarter', '2026-09-30').label, '2026-Q3');
  assert.equal(periods('quarter', '2026-10-01').label, '2026-Q4');
  assert.equal(periods('quarter', '2026-12-31').from, '2026-10-01');
  assert.equal(periods('year', '2027-06-15').label, '2027');
});

test('a period it does not know counts as a month', () => {
  assert.deepEqual(periods('week', '2026-05-20'), periods('month', '2026-05-20'));
  assert.equal(periods(undefined, '2026-05-20').label, '2026-05');
});

test('ISO weeks in the middle of a year', () => {
  // 2026-05-20 is a Wednesday; its week runs Monday 18 to Sunday 24 May, week 21.
  assert.deepEqual(isoWeek('2026-05-20'), { label: '2026-W21', from: '2026-05-18', to: '2026-05-24' });
  assert.equal(isoWeek('2026-05-18').label, '2026-W21');
  assert.equal(isoWeek('2026-05-24').label, '2026-W21');
  assert.equal(isoWeek('2026-05-25').label, '2026-W22');
});

test('ISO weeks at year boundaries belong to the year of their Thursday', () => {
  // 2026 starts and ends on a Thursday, so it has 53 weeks; 1 to 3 January 2027 are in its last.
  assert.deepEqual(isoWeek('2026-12-31'), { label: '2026-W53', from: '2026-12-28', to: '2027-01-03' });
  assert.equal(isoWeek('2027-01-01').label, '2026-W53');
  assert.equal(isoWeek('2027-01-03').label, '2026-W53');
  assert.deepEqual(isoWeek('2027-01-04'), { label: '2027-W01', from: '2027-01-04', to: '2027-01-10' });
  // Thursday 1 January 2026: week 1 of 2026 starts on Monday 29 December 2025.
  assert.deepEqual(isoWeek('2025-12-29'), { label: '2026-W01', from: '2025-12-29', to: '2026-01-04' });
  // Wednesday 1 January 2025: Monday 30 December 2024 is already in 2025-W01.
  assert.equal(isoWeek('2024-12-30').label, '2025-W01');
  assert.equal(isoWeek('2024-12-29').label, '2024-W52');
  // Friday 1 January 2021 is in the last week of 2020, its 53rd.
  assert.equal(isoWeek('2021-01-01').label, '2020-W53');
});

test('lastWeek on a Monday is the whole week that ended the day before', () => {
  assert.deepEqual(lastWeek('2026-05-18'), { label: '2026-W20', from: '2026-05-11', to: '2026-05-17' });
});

test('lastWeek on a Sunday is not the week that ends today', () => {
  assert.deepEqual(lastWeek('2026-05-24'), { label: '2026-W20', from: '2026-05-11', to: '2026-05-17' });
});

test('lastWeek across the turn of the year', () => {
  assert.deepEqual(lastWeek('2027-01-05'), { label: '2026-W53', from: '2026-12-28', to: '2027-01-03' });
  assert.deepEqual(lastWeek('2026-01-05'), { label: '2026-W01', from: '2025-12-29', to: '2026-01-04' });
  assert.deepEqual(lastWeek('2026-01-04'), { label: '2025-W52', from: '2025-12-22', to: '2025-12-28' });
});
