// The headline tiles, grouped by pillar.
import * as fmt from '../format.js';
import { state } from '../state.js';
import { escape, name, tr } from '../view.js';
import { goal, status, trendText } from './goal.js';

// Headline tiles, in the order the room reads them.
const TILES = [
  'online_submission_rate',
  'fully_online_rate',
  'digitisation_rate',
  'on_time_rate',
  'satisfaction_index',
  'online_payment_rate',
  'work_records_online_rate_province',
  'work_records_online_rate_commune',
  'skills_coverage_civil_servant',
  'skills_coverage_student',
  'skills_coverage_pupil',
  'skills_coverage_adult',
  'skills_coverage_worker',
  'household_coverage',
  'weekly_class_coverage',
];
const PILLARS = ['digital_government', 'digital_economy', 'digital_society'];

function tile(value, previous) {
  const s = status(value);
  const { text, source } = goal(value);
  return `<article class="tile status-${s}" data-indicator="${value.id}">
    <h3>${escape(name(value))}</h3>
    <p class="value" data-value>${value.denominator === 0 ? tr('noData') : fmt.headline(state.lang, value)}</p>
    <p class="target" data-goal>${escape(text)}</p>
    ${source ? `<p class="source">${escape(source)}</p>` : ''}
    <p class="trend">${escape(trendText(value, previous))}</p>
  </article>`;
}

/// The tiles of `current` (a /v1/kpis answer), each with its trend against `previous`.
export function renderTiles(current, previous) {
  const byId = Object.fromEntries(current.indicators.map((v) => [v.id, v]));
  const previousById = Object.fromEntries((previous?.indicators || []).map((v) => [v.id, v]));
  const pillarOf = Object.fromEntries(state.definitions.map((d) => [d.id, d.pillar]));
  return PILLARS.map((pillar) => {
    const ids = TILES.filter((id) => pillarOf[id] === pillar && byId[id]);
    if (!ids.length) return '';
    return `<section class="pillar" aria-labelledby="pillar-${pillar}">
      <h2 id="pillar-${pillar}">${tr(pillar)}</h2>
      <div class="tiles">${ids.map((id) => tile(byId[id], previousById[id])).join('')}</div>
    </section>`;
  }).join('');
}
