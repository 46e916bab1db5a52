// The indicator choices and the axis formatter of a chart, from the definitions the API gave:
// the trends and the ranking offer the same list and label values alike.
import * as fmt from '../format.js';
import { state } from '../state.js';
import { escape, name } from '../view.js';

export function indicatorOptions(selected) {
  return state.definitions
    .map((d) => `<option value="${d.id}" ${d.id === selected ? 'selected' : ''}>${escape(name(d))}</option>`)
    .join('');
}

/// Charts plot ratios in percent and averages in hours (fmt.plotted); their labels say so.
export function formatterFor(id) {
  const definition = state.definitions.find((d) => d.id === id);
  if (!definition || definition.kind === 'ratio') return (v) => fmt.percentPoints(state.lang, v);
  if (definition.kind === 'average_seconds') return (v) => `${fmt.number(state.lang, v, 1)} h`;
  return (v) => fmt.number(state.lang, v);
}
