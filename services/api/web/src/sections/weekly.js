// The weekly classes: the plan asks for one every week in every commune.
import * as fmt from '../format.js';
import { hashFor, state } from '../state.js';
import { escape, tr } from '../view.js';

/// How many communes held a class in `week` (periods.lastWeek) and which did not, from the
/// weekly_class_coverage ranking of that week.
export function weeklyClassesSection(ranking, week) {
  const missing = ranking.units.filter((entry) => entry.value.denominator && entry.value.numerator === 0);
  const held = ranking.units.filter((entry) => entry.value.numerator > 0).length;
  const list = missing.length
    ? `<ul class="unit-list">${missing
        .sort((a, b) => a.unit.name.localeCompare(b.unit.name, 'vi'))
        .map((entry) => `<li data-unit="${entry.unit.code}"><a href="${hashFor({ unit: entry.unit.code })}">${escape(entry.unit.name)}</a></li>`)
        .join('')}</ul>`
    : `<p>${tr('allCommunesHeldClass')}</p>`;
  return `<section class="weekly-classes" aria-labelledby="weekly-title">
    <h2 id="weekly-title">${tr('weeklyClasses')}</h2>
    <p class="facts" data-held="${held}" data-missing="${missing.length}">${fmt.date(state.lang, week.from)} – ${fmt.date(state.lang, week.to)}:
      ${fmt.number(state.lang, held)}/${fmt.number(state.lang, ranking.units.length)} ${tr('communesHeldClass')}</p>
    <h3>${tr('communesWithoutClass')} (${fmt.number(state.lang, missing.length)})</h3>
    ${list}
  </section>`;
}
