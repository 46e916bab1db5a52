// Pipeline health: how fresh each source is, its rate and its losses; and whether the rollups,
// and so every number on the page, have fallen behind.
import { api, serverNow } from '../api.js';
import * as fmt from '../format.js';
import { rollupLag } from '../freshness.js';
import { state } from '../state.js';
import { $, tr } from '../view.js';

/// The frame; refreshPipeline fills it (on a unit's profile, there is none to fill).
export function pipelineSection() {
  return `<section class="pipeline" aria-labelledby="pipeline-title"><h2 id="pipeline-title">${tr('pipeline')}</h2><div id="pipeline-table"></div></section>`;
}

function pipelineTable(health) {
  const rows = health.sources
    .map((s) => {
      const age = s.newest_event_age_seconds;
      const known = (v) => (v === null ? tr('unknown') : fmt.number(state.lang, v));
      return `<tr data-source="${s.source}">
        <th scope="row">${tr(s.source)}</th>
        <td>${age === null ? '–' : `${fmt.duration(state.lang, age)} ${tr('ago')}`}</td>
        <td class="num">${fmt.number(state.lang, s.events_per_minute, 1)}</td>
        <td class="num">${known(s.rejected_events)}</td>
        <td class="num">${known(s.dead_lettered)}</td>
      </tr>`;
    })
    .join('');
  return `<table>
    <thead><tr><th scope="col">${tr('source')}</th><th scope="col">${tr('freshness')}</th><th scope="col">${tr('perMinute')}</th>
      <th scope="col">${tr('rejected')}</th><th scope="col">${tr('deadLettered')}</th></tr></thead>
    <tbody>${rows}</tbody>
  </table>`;
}

/// Asked on every load, the profile's too: state.rollupLag drives the banner on every view.
export async function refreshPipeline() {
  const health = await api.pipeline();
  const table = $('#pipeline-table');
  if (table) table.innerHTML = pipelineTable(health);
  state.rollupLag = rollupLag(health.sources, serverNow().getTime());
}
