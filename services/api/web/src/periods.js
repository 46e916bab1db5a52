// Period arithmetic on ISO days (YYYY-MM-DD). The caller passes today (in the province), so these
// are pure; they count in UTC, where no day is 23 or 25 hours long.
const DAY_MS = 86400000;

export function addDays(day, days) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/// The `period` ('month', 'quarter' or 'year'; anything else counts as a month) to `today`, the
/// same number of days just before it (a fair comparison early in a period), and its ranking name.
export function periods(period, today) {
  const to = today;
  const [y, m] = to.split('-').map(Number);
  let from;
  let label;
  if (period === 'year') {
    from = `${y}-01-01`;
    label = `${y}`;
  } else if (period === 'quarter') {
    const q = Math.floor((m - 1) / 3);
    from = `${y}-${String(q * 3 + 1).padStart(2, '0')}-01`;
    label = `${y}-Q${q + 1}`;
  } else {
    from = `${y}-${String(m).padStart(2, '0')}-01`;
    label = `${y}-${String(m).padStart(2, '0')}`;
  }
  const days = Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS) + 1;
  return { from, to, label, previous: { from: addDays(from, -days), to: addDays(from, -1) } };
}

/// The ISO week (Monday to Sunday) that holds `day`: its ranking name and its days.
export function isoWeek(day) {
  const [y, m, d] = day.split('-').map(Number);
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // Monday 0
  const monday = addDays(day, -weekday);
  const [my, mm, md] = monday.split('-').map(Number);
  // A week belongs to the year that holds its Thursday: 2027-01-01 is in 2026-W53.
  const thursday = new Date(Date.UTC(my, mm - 1, md + 3));
  const yearStart = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  const week = Math.floor((thursday - yearStart) / DAY_MS / 7) + 1;
  return { label: `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`, from: monday, to: addDays(monday, 6) };
}

/// The last whole ISO week before `today`: today's own week is not over, even on its Sunday.
export function lastWeek(today) {
  return isoWeek(addDays(today, -7));
}
