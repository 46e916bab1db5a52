// The ranking of the 148 communes and wards: a sortable table and a heat grid, both opening a unit.
import { heatGrid } from '../charts.js';
import * as fmt from '../format.js';
import { hashFor, navigate, state } from '../state.js';
import { $, escape, name, tr } from '../view.js';
import { formatterFor, indicatorOptions } from './indicators.js';

/// The frame; renderRanking and drawGrid fill it once state.ranking has come.
export function rankingSection() {
  return `<section class="ranking" aria-labelledby="ranking-title">
    <h2 id="ranking-title">${tr('ranking')}</h2>
    <div class="chart-controls"><label>${tr('indicator')} <select id="ranking-indicator">${indicatorOptions(state.indicator)}</select></label></div>
    <div class="grid-and-table">
      <div>
        <h3>${tr('grid')}</h3>
        <p class="note">${tr('gridNote')}</p>
        <div id="heat-grid" class="chart grid-chart" role="img" aria-label="${escape(tr('grid'))}"></div>
      </div>
      <div class="table-wrap" id="ranking-table"></div>
    </div>
  </section>`;
}

export function bindRanking() {
  $('#ranking-indicator')?.addEventListener('change', (e) => navigate({ indicator: e.target.value }));
}

/// The table in state.sort's order. Sorting redraws it here, without asking the API again, and
/// gives the focus back to the header the keyboard pressed.
export function renderRanking() {
  const ranking = state.ranking;
  const container = $('#ranking-table');
  if (!ranking || !container) return;
  const rows = [...ranking.units];
  const { key, ascending } = state.sort;
  const value = (entry) => {
    if (key === 'rank') return entry.rank ?? Infinity;
    if (key === 'unit') return entry.unit.name;
    if (key === 'change') return -(entry.rank_change ?? -Infinity);
    return -(fmt.plotted(entry.value) ?? -Infinity);
  };
  rows.sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = typeof x === 'string' ? x.localeCompare(y, 'vi') : x - y;
    return ascending ? order : -order;
  });
  const header = (k, label) => {
    const sorted = state.sort.key === k ? (state.sort.ascending ? 'ascending' : 'descending') : 'none';
    return `<th scope="col" aria-sort="${sorted}"><button type="button" data-sort="${k}">${label}</button></th>`;
  };
  const change = (entry) => {
    if (entry.rank_change === null || entry.rank_change === 0) return entry.rank_change === 0 ? '=' : '–';
    const up = entry.rank_change > 0;
    return `<span class="${up ? 'up' : 'down'}">${up ? '▲' : '▼'} ${Math.abs(entry.rank_change)}<span class="sr"> ${tr(up ? 'up' : 'down')}</span></span>`;
  };
  container.innerHTML = `<table>
    <caption class="sr">${escape(name(ranking.indicator))}, ${escape(ranking.period.label)}</caption>
    <thead><tr>${header('rank', tr('rank'))}${header('unit', tr('unit'))}${header('value', tr('value'))}${header('change', tr('change'))}</tr></thead>
    <tbody>${rows
      .map(
        (entry) => `<tr data-unit="${entry.unit.code}">
          <td>${entry.rank ?? '–'}</td>
          <td><a href="${hashFor({ unit: entry.unit.code })}">${escape(entry.unit.name)}</a></td>
          <td class="num">${fmt.headline(state.lang, entry.value)}</td>
          <td class="num">${change(entry)}</td>
        </tr>`,
      )
      .join('')}</tbody>
  </table>`;
  container.querySelectorAll('[data-sort]').forEach((button) =>
    button.addEventListener('click', () => {
      const k = button.dataset.sort;
      state.sort = { key: k, ascending: state.sort.key === k ? !state.sort.ascending : true };
      renderRanking();
      container.querySelector(`[data-sort="${k}"]`)?.focus();
    }),
  );
}

/// The units in code order, 15 to a row, so a commune keeps its cell from one load to the next.
export function drawGrid() {
  const ranking = state.ranking;
  const element = $('#heat-grid');
  if (!ranking || !element) return;
  const cells = [...ranking.units]
    .sort((a, b) => a.unit.code.localeCompare(b.unit.code))
    .map((entry) => ({ code: entry.unit.code, name: entry.unit.name, value: fmt.plotted(entry.value) }));
  heatGrid(element, {
    cells,
    columns: 15,
    formatter: formatterFor(ranking.indicator.id),
    onPick: (code) => navigate({ unit: code }),
    description: `${name(ranking.indicator)}: ${cells.length}`,
    noData: tr('noData'),
  });
}
