// The IOC dashboard: headline tiles by pillar, trends, the 148-unit ranking and heat grid, unit
// profiles and pipeline health. State lives in the URL hash, so a link shows the same view.
import { api } from './api.js';
import { t } from './i18n.js';
import * as fmt from './format.js';
import { lineChart, heatGrid } from './charts.js';

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
// Rollups that have not caught up for this long: the numbers are not live. (Quiet sources are
// not a reason: a commune's portal has no events at 3 a.m.; the panel shows their age.)
const STALE_AFTER_SECONDS = 600;

const state = {
  lang: 'vi',
  period: 'month',
  indicator: 'online_submission_rate',
  bucket: 'day',
  unit: null,
  refreshSeconds: 30,
  definitions: [],
  lastUpdated: null,
  unreachable: false,
  staleSince: null,
  sort: { key: 'rank', ascending: true },
  ranking: null,
};

const $ = (selector) => document.querySelector(selector);
const tr = (key) => t(state.lang, key);
const name = (value) => (state.lang === 'vi' ? value.name_vi : value.name_en);
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// ---- URL ----------------------------------------------------------------------------------

function readHash() {
  const [path, search] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(search || '');
  const unit = (path || '').match(/^\/unit\/([^/]+)$/);
  state.unit = unit ? decodeURIComponent(unit[1]) : null;
  state.lang = params.get('lang') === 'en' ? 'en' : 'vi';
  state.period = ['month', 'quarter', 'year'].includes(params.get('period')) ? params.get('period') : 'month';
  state.bucket = ['day', 'week', 'month'].includes(params.get('bucket')) ? params.get('bucket') : 'day';
  if (params.get('indicator')) state.indicator = params.get('indicator');
  const refresh = Number(params.get('refresh'));
  state.refreshSeconds = refresh >= 1 && refresh <= 3600 ? refresh : 30;
}

function hashFor(overrides = {}) {
  const next = { ...state, ...overrides };
  const params = new URLSearchParams({ lang: next.lang, period: next.period, indicator: next.indicator, bucket: next.bucket });
  if (next.refreshSeconds !== 30) params.set('refresh', String(next.refreshSeconds));
  const path = next.unit ? `/unit/${encodeURIComponent(next.unit)}` : '/';
  return `#${path}?${params}`;
}

function navigate(overrides) {
  location.hash = hashFor(overrides);
}

// ---- periods ------------------------------------------------------------------------------

function addDays(day, days) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/// The chosen period to date, the same length just before it, and its ranking name.
function periods() {
  const to = fmt.today();
  const [y, m] = to.split('-').map(Number);
  let from;
  let label;
  if (state.period === 'year') {
    from = `${y}-01-01`;
    label = `${y}`;
  } else if (state.period === 'quarter') {
    const q = Math.floor((m - 1) / 3);
    from = `${y}-${String(q * 3 + 1).padStart(2, '0')}-01`;
    label = `${y}-Q${q + 1}`;
  } else {
    from = `${y}-${String(m).padStart(2, '0')}-01`;
    label = `${y}-${String(m).padStart(2, '0')}`;
  }
  const days = Math.round((Date.parse(to) - Date.parse(from)) / 86400000) + 1;
  return { from, to, label, previous: { from: addDays(from, -days), to: addDays(from, -1) } };
}

// ---- tiles --------------------------------------------------------------------------------

function status(value) {
  if (value.target === null || value.ratio === null) return 'none';
  if (value.progress >= 1) return 'met';
  return value.progress >= 0.9 ? 'near' : 'far';
}

function trendText(value, previous) {
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
function goal(value) {
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

function renderTiles(current, previous) {
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

// ---- controls -----------------------------------------------------------------------------

function indicatorOptions(selected) {
  return state.definitions
    .map((d) => `<option value="${d.id}" ${d.id === selected ? 'selected' : ''}>${escape(name(d))}</option>`)
    .join('');
}

function formatterFor(id) {
  const definition = state.definitions.find((d) => d.id === id);
  if (!definition || definition.kind === 'ratio') return (v) => `${fmt.number(state.lang, v, 1)}%`;
  if (definition.kind === 'average_seconds') return (v) => `${fmt.number(state.lang, v, 1)} h`;
  return (v) => fmt.number(state.lang, v);
}

function trendsSection(units) {
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

function bindControls() {
  $('#indicator-select')?.addEventListener('change', (e) => navigate({ indicator: e.target.value }));
  $('#bucket-select')?.addEventListener('change', (e) => navigate({ bucket: e.target.value }));
  $('#scope-select')?.addEventListener('change', (e) => navigate({ unit: e.target.value || null }));
  $('#ranking-indicator')?.addEventListener('change', (e) => navigate({ indicator: e.target.value }));
}

// ---- series -------------------------------------------------------------------------------

async function drawSeries(p) {
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

// ---- ranking and grid ---------------------------------------------------------------------

function rankingSection() {
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

function renderRanking() {
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

function drawGrid() {
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

// ---- weekly classes -----------------------------------------------------------------------

/// The last whole ISO week (Monday to Sunday) before today: its ranking name and its days.
function lastWeek() {
  const today = fmt.today();
  const [y, m, d] = today.split('-').map(Number);
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // Monday 0
  const monday = addDays(today, -weekday - 7);
  const [my, mm, md] = monday.split('-').map(Number);
  // ISO week number: the week of the year that holds its Thursday.
  const thursday = new Date(Date.UTC(my, mm - 1, md + 3));
  const yearStart = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  const week = Math.floor((thursday - yearStart) / 86400000 / 7) + 1;
  return { label: `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`, from: monday, to: addDays(monday, 6) };
}

/// The plan asks for classes every week in every commune: how many held one last week, and
/// which did not.
function weeklyClassesSection(ranking, week) {
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

// ---- pipeline health ----------------------------------------------------------------------

function pipelineSection(health) {
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

// ---- unit profile -------------------------------------------------------------------------

function unitProfile(profile) {
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

// ---- loading and refreshing ---------------------------------------------------------------

function applyStaticTexts() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll('[data-i18n]').forEach((el) => {
    el.textContent = tr(el.dataset.i18n);
  });
  const button = $('#lang-switch');
  button.textContent = tr('switchTo');
  button.setAttribute('aria-pressed', String(state.lang === 'en'));
  $('#period-select').value = state.period;
}

function showBanner() {
  const banner = $('#banner');
  if (state.unreachable) {
    const when = state.lastUpdated ? fmt.time(state.lang, state.lastUpdated) : '–';
    banner.textContent = `${tr('unreachable')} ${when}.`;
    banner.dataset.kind = 'unreachable';
    banner.hidden = false;
  } else if (state.staleSince) {
    banner.textContent = `${tr('stale')} ${fmt.time(state.lang, state.staleSince)}.`;
    banner.dataset.kind = 'stale';
    banner.hidden = false;
  } else {
    banner.hidden = true;
    delete banner.dataset.kind;
  }
  document.body.classList.toggle('is-stale', Boolean(state.unreachable || state.staleSince));
  $('#live').textContent = state.lastUpdated ? `${state.unreachable ? '' : `● ${tr('live')} · `}${tr('updatedAt')} ${fmt.time(state.lang, state.lastUpdated)}` : '';
}

async function load() {
  const p = periods();
  $('#period-label').textContent = `${fmt.date(state.lang, p.from)} – ${fmt.date(state.lang, p.to)}`;
  const main = $('#main');
  if (!state.definitions.length) {
    state.definitions = (await api.indicators()).indicators;
  }
  if (!state.definitions.some((d) => d.id === state.indicator)) state.indicator = 'online_submission_rate';
  if (state.unit) {
    const [profile, units] = await Promise.all([api.unit(state.unit, p.from, p.to), api.units()]);
    main.innerHTML = unitProfile(profile) + trendsSection(units.units);
    bindControls();
    await drawSeries(p);
  } else {
    const unitsPromise = api.units();
    const [current, previous] = await Promise.all([api.kpis(p.from, p.to), api.kpis(p.previous.from, p.previous.to)]);
    const week = lastWeek();
    const weekly = await api.ranking('weekly_class_coverage', week.label);
    main.innerHTML = `<div id="tiles">${renderTiles(current, previous)}</div>
      ${weeklyClassesSection(weekly, week)}
      ${trendsSection((await unitsPromise).units.filter((u) => u.kind !== 'department'))}
      ${rankingSection()}
      <section class="pipeline" aria-labelledby="pipeline-title"><h2 id="pipeline-title">${tr('pipeline')}</h2><div id="pipeline-table"></div></section>`;
    performance.mark('ioc-tiles');
    bindControls();
    const [ranking] = await Promise.all([api.ranking(state.indicator, p.label), drawSeries(p)]);
    state.ranking = ranking;
    renderRanking();
    drawGrid();
  }
  await refreshPipeline();
  state.lastUpdated = new Date();
  state.unreachable = false;
  showBanner();
}

async function refreshPipeline() {
  const health = await api.pipeline();
  const table = $('#pipeline-table');
  if (table) table.innerHTML = pipelineSection(health);
  const covered = health.sources.map((s) => s.rollup_covered_until).filter(Boolean).map((s) => Date.parse(s));
  const oldest = covered.length ? Math.min(...covered) : null;
  state.staleSince = oldest !== null && Date.now() - oldest > STALE_AFTER_SECONDS * 1000 ? new Date(oldest) : null;
}

let loading = null;
let again = false;
async function refresh() {
  // One load at a time: a slow answer must not race the next tick over the same DOM. A request
  // that arrives meanwhile (a click on the language switch, say) runs once the load ends.
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    do {
      again = false;
      try {
        await load();
      } catch (error) {
        console.warn('refresh failed:', error.message);
        state.unreachable = true;
        showBanner();
      }
    } while (again);
    loading = null;
  })();
  return loading;
}

let timer = null;
function schedule() {
  clearInterval(timer);
  timer = setInterval(refresh, state.refreshSeconds * 1000);
}

function start() {
  readHash();
  applyStaticTexts();
  $('#lang-switch').addEventListener('click', () => navigate({ lang: state.lang === 'vi' ? 'en' : 'vi' }));
  $('#period-select').addEventListener('change', (e) => navigate({ period: e.target.value }));
  window.addEventListener('hashchange', () => {
    readHash();
    applyStaticTexts();
    $('#main').focus({ preventScroll: true });
    refresh();
    schedule();
  });
  $('#main').innerHTML = `<p class="loading">${tr('loading')}</p>`;
  refresh();
  schedule();
}

start();
