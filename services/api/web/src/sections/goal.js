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
  if (!previous || value.ratio === null || previous.ratio === null) return '';
  if (value.kind === 'count') {
    const delta = value.numerator - previous.numerator;
    return `${delta >= 0 ? '▲' : '▼'} ${fmt.number(state.lang, Math.abs(delta))} ${tr('vsPrevious')}`;
  }
  const points = (value.ratio - previous.ratio) * 100;
  const unit = state.lang === 'vi' ? 'điểm %' : 'pp';
  return `${points >= 0 ? '▲' : '▼'} ${fmt.number(state.lang, Math.abs(points), 2)} ${unit} ${tr('vsPrevious')}`;
}

/// What a value is measured against: a target a text sets (with how far it is), a scoring
/// threshold (which is not a goal), or nothing; and the text that sets it.
export function goal(value) {
  if (value.target !== null) {
    const s = status(value);
    const text = `${tr('target')}: ${fmt.percent(state.lang, value.target)} · ${tr(s === 'met' ? 'met' : s === 'near' ? 'near' : 'far')}`;
    return { text, source: value.target_source };
  }
  if (value.threshold !== null) {
    return { text: `${tr('threshold')}: ${fmt.percent(state.lang, value.threshold)}`, source: value.threshold_source };
  }
  return { text: tr('noTarget'), source: null };
}
