// Numbers, percentages and dates for vi-VN (81,71%) or en-GB, in the province's time zone.
const LOCALES = { vi: 'vi-VN', en: 'en-GB' };
const ZONE = 'Asia/Ho_Chi_Minh';

/// `value` kept off `whole` and off 0 by one `step` when it is that close to either without
/// being it: rounded, a share just under a whole (0.99996: one dossier of 25,000 late) would
/// read "100,00%" beside "close to target", one just above none "0,00%" beside a count that is
/// not zero, and one just over a whole (1.00004: a coverage whose population in the reference
/// data is out of date) "100,00%" where it is more. The ends show the nearest step that is
/// still true instead.
function truthfulAtTheEnds(value, whole, step) {
  if (value < whole && value > whole - step) return whole - step;
  if (value > whole && value < whole + step) return whole + step;
  if (value > 0 && value < step) return step;
  return value;
}

export function percent(lang, ratio) {
  if (ratio === null || ratio === undefined) return '–';
  const shown = truthfulAtTheEnds(ratio, 1, 0.0001);
  return new Intl.NumberFormat(LOCALES[lang], { style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(shown);
}

/// A value already in percent (the charts' scale, fmt.plotted), with one decimal and the same
/// care at the ends as `percent`.
export function percentPoints(lang, points) {
  if (points === null || points === undefined) return '–';
  return `${number(lang, truthfulAtTheEnds(points, 100, 0.1), 1)}%`;
}

export function number(lang, value, digits = 0) {
  if (value === null || value === undefined) return '–';
  return new Intl.NumberFormat(LOCALES[lang], { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
}

/// The headline of an indicator value as text: a percentage, a count, or hours for averages.
export function headline(lang, value) {
  if (!value) return '–';
  if (value.kind === 'count') return number(lang, value.numerator);
  if (value.kind === 'average_seconds') return value.ratio === null ? '–' : `${number(lang, value.ratio / 3600, 1)} h`;
  return percent(lang, value.ratio);
}

/// The number charts plot: ratios in percent, averages in hours, counts as they are.
export function plotted(value) {
  if (!value) return null;
  if (value.kind === 'count') return value.numerator;
  if (value.ratio === null) return null;
  return value.kind === 'average_seconds' ? value.ratio / 3600 : value.ratio * 100;
}

export function date(lang, isoDay) {
  const [y, m, d] = isoDay.split('-').map(Number);
  return new Intl.DateTimeFormat(LOCALES[lang], { timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
}

export function time(lang, instant) {
  return new Intl.DateTimeFormat(LOCALES[lang], { timeZone: ZONE, dateStyle: 'short', timeStyle: 'medium' }).format(instant);
}

export function duration(lang, seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${number(lang, minutes)} ${lang === 'vi' ? 'phút' : 'min'}`;
  const hours = seconds / 3600;
  if (hours < 48) return `${number(lang, hours, 1)} ${lang === 'vi' ? 'giờ' : 'h'}`;
  return `${number(lang, hours / 24, 1)} ${lang === 'vi' ? 'ngày' : 'days'}`;
}

/// Today in the province (YYYY-MM-DD), or the province's day at the instant `now`.
export function today(now = new Date()) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  return parts;
}
