// A unit's profile: every indicator for one unit, against the previous period of the same length.
import * as fmt from '../format.js';
import { hashFor, state } from '../state.js';
import { escape, name, tr } from '../view.js';
import { goal, status, trendText } from './goal.js';

/// From a /v1/units/<code> answer. An indicator's name links to the same unit with that
/// indicator in the trends below.
export function unitProfile(profile) {
  const previous = Object.fromEntries(profile.previous_indicators.map((v) => [v.id, v]));
  const rows = profile.indicators
    .map((v) => {
      const { text, source } = goal(v);
      return `<tr data-indicator="${v.id}" class="status-${status(v)}">
        <th scope="row"><a href="${hashFor({ indicator: v.id })}">${escape(name(v))}</a></th>
        <td class="num" data-value>${fmt.headline(state.lang, v)}</td>
        <td class="num">${fmt.headline(state.lang, previous[v.id])}</td>
        <td>${escape(trendText(v, previous[v.id]))}</td>
        <td>${v.target === null && v.threshold === null ? '–' : escape(text)}</td>
        <td class="source">${source ? escape(source) : ''}</td>
      </tr>`;
    })
    .join('');
  const denominators = profile.denominators;
  return `<section class="profile" aria-labelledby="unit-title">
    <p><a href="${hashFor({ unit: null })}" class="back">${tr('back')}</a></p>
    <h2 id="unit-title">${tr('unitProfile')}: ${escape(profile.unit.name)} <small>(${escape(profile.unit.code)})</small></h2>
    <p class="facts">${tr('population')}: ${fmt.number(state.lang, denominators.population)} · ${tr('households')}: ${fmt.number(state.lang, denominators.household)}</p>
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">${tr('indicator')}</th><th scope="col">${tr('current')}</th><th scope="col">${tr('previous')}</th><th scope="col">${tr('vsPrevious')}</th><th scope="col">${tr('target')}</th><th scope="col">${tr('goalSource')}</th></tr></thead>
      <tbody>${rows}</tbody>
    </table></div>
  </section>`;
}
