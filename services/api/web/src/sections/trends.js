// The trends chart of one indicator, with its indicator, bucket and scope controls.
import { api } from '../api.js';
import { lineChart } from '../charts.js';
import * as fmt from '../format.js';
import { addDays } from '../periods.js';
import { navigate, state } from '../state.js';
import { $, escape, tr } from '../view.js';
import { formatterFor, indicatorOptions } from './indicators.js';

/// `units` fill the scope choice; a unit's profile has none, its scope is the unit.
export function trendsSection(units) {
  const unitOptions = [`<option value="">${tr('province')}</option>`]
    .concat(units.map((u) => `<option value="${u.code}" ${u.code === state.unit ? 'selected' : ''}>${escape(u.name)}</option>`))
    .join('');
  return `<section class="trends" aria-labelledby="trends-title">
    <h2 id="trends-title">${tr('trends')}</h2>
    <div class="chart-controls">
      <label>${tr('indicator')} <select id="indicator-select">${indicatorOptions(state.indicator)}</select></label>
      <label>${tr('bucket')} <select id="bucket-select">
        ${['day', 'week', 'month'].map((b) => `<option value="${b}" ${b === state.bucket ? 'selected' : ''}>${tr(b)}</option>`).join('')}
      </select></label>
      ${state.unit ? '' : `<label>${tr('scope')} <select id="scope-select">${unitOptions}</select></label>`}
    </div>
    <div id="series-chart" class="chart" role="img" aria-label="${escape(tr('trends'))}"></div>
  </section>`;
}

export function bindTrends() {
  $('#indicator-select')?.addEventListener('change', (e) => navigate({ indicator: e.target.value }));
  $('#bucket-select')?.addEventListener('change', (e) => navigate({ bucket: e.target.value }));
  $('#scope-select')?.addEventListener('change', (e) => navigate({ unit: e.target.value || null }));
}

/// The series over the period `p` (periods.periods); a month to date is a few points, so the
/// month view shows the last 90 days instead.
export async function drawSeries(p) {
  const element = $('#series-chart');
  if (!element) return;
  const series = await api.series(state.indicator, state.bucket, state.period === 'month' ? addDays(p.to, -89) : p.from, p.to, state.unit);
  const formatter = formatterFor(state.indicator);
  const last = series.points[series.points.length - 1];
  const target = last && last.value.target !== null ? last.value.target * 100 : null;
  lineChart(element, {
    points: series.points.map((point) => ({ label: fmt.date(state.lang, point.from), value: fmt.plotted(point.value) })),
    target,
    name: state.lang === 'vi' ? series.indicator.name_vi : series.indicator.name_en,
    formatter,
    description: `${state.lang === 'vi' ? series.indicator.name_vi : series.indicator.name_en}: ${series.points.length} ${tr(state.bucket)}`,
  });
}
