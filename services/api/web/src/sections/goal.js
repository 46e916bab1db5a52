// How a value stands against its goal and how it moved since the previous period: the tiles and
// a unit's profile must judge alike.
import * as fmt from '../format.js';
import { state } from '../state.js';
import { tr } from '../view.js';

export function status(value) {
  if (value.target === null || value.ratio === null) return 'none';
  if (value.progress >= 1) return 'met';
  return value.progress >= 0.9 ? 'near' : 'far';
}

export function trendText(value, previous) {
  if (!previous) return '';
  // A count has no ratio (the API serves it as null): its change is the numerators'.
  if (value.kind === 'count') {
    if (value.numerator === null || previous.numerator === null) return '';
    const delta = value.numerator - previous.numerator;
    return `${delta >= 0 ? '▲' : '▼'} ${fmt.number(state.lang, Math.abs(delta))} ${tr('vsPrevious')}`;
  }
  if (value.ratio === null || previous.ratio === null) return '';
  // An average (2.2's resolution time) is seconds, not a share: its change in hours, as shown.
  if (value.kind === 'average_seconds') {
    const hours = (value.ratio - previous.ratio) / 3600;
    return `${hours >= 0 ? '▲' : '▼'} ${fmt.number(state.lang, Math.abs(hours), 1)} h ${tr('vsPrevious')}`;
  }
  const points = (value.ratio - previous.ratio) * 100;
  const unit = state.lang === 'vi' ? 'điểm %' : 'pp';
  return `${points >= 0 ? '▲' : '▼'} ${fmt.number(state.lang, Math.abs(points), 2)} ${unit} ${tr('vsPrevious')}`;
}

/// What a value is measured against: a target a text sets (with how far it is), a scoring
/// threshold (which is not a goal), or nothing; and the text that sets it.
export function goal(value) {
  if (value.target !== null) {
    // No value (nothing counted yet, so no ratio) is not "far from target".
    const judged = { met: 'met', near: 'near', far: 'far', none: 'noData' }[status(value)];
    const text = `${tr('target')}: ${fmt.percent(state.lang, value.target)} · ${tr(judged)}`;
    return { text, source: value.target_source };
  }
  if (value.threshold !== null) {
    return { text: `${tr('threshold')}: ${fmt.percent(state.lang, value.threshold)}`, source: value.threshold_source };
  }
  return { text: tr('noTarget'), source: null };
}
