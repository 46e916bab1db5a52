// The IOC dashboard: headline tiles by pillar, trends, the 148-unit ranking and heat grid, unit
// profiles and pipeline health. This file loads a view and refreshes it; the sections render.
import { api, serverNow } from './api.js';
import * as fmt from './format.js';
import { applyStaticTexts, showBanner } from './page.js';
import { lastWeek, periods } from './periods.js';
import { navigate, readHash, state } from './state.js';
import { $, tr } from './view.js';
import { unitProfile } from './sections/profile.js';
import { pipelineSection, refreshPipeline } from './sections/pipeline.js';
import { bindRanking, drawGrid, rankingSection, renderRanking } from './sections/ranking.js';
import { renderTiles } from './sections/tiles.js';
import { bindTrends, drawSeries, trendsSection } from './sections/trends.js';
import { weeklyClassesSection } from './sections/weekly.js';

/// One load of the view in the hash. The requests go in a fixed order: the tiles first (the
/// performance mark times them), then what fills in below them.
async function load() {
  if (!state.definitions.length) {
    state.definitions = (await api.indicators()).indicators;
  }
  // After an answer of the server: the periods end on its day, not this computer's (api.js).
  const today = fmt.today(serverNow());
  const p = periods(state.period, today);
  $('#period-label').textContent = `${fmt.date(state.lang, p.from)} – ${fmt.date(state.lang, p.to)}`;
  const main = $('#main');
  if (!state.definitions.some((d) => d.id === state.indicator)) state.indicator = 'online_submission_rate';
  if (state.unit) {
    const [profile, units] = await Promise.all([api.unit(state.unit, p.from, p.to), api.units()]);
    main.innerHTML = unitProfile(profile) + trendsSection(units.units);
    bindTrends();
    await drawSeries(p);
  } else {
    const unitsPromise = api.units();
    const [current, previous] = await Promise.all([api.kpis(p.from, p.to), api.kpis(p.previous.from, p.previous.to)]);
    const week = lastWeek(today);
    const weekly = await api.ranking('weekly_class_coverage', week.label);
    main.innerHTML = `<div id="tiles">${renderTiles(current, previous)}</div>
      ${weeklyClassesSection(weekly, week)}
      ${trendsSection((await unitsPromise).units.filter((u) => u.kind !== 'department'))}
      ${rankingSection()}
      ${pipelineSection()}`;
    performance.mark('ioc-tiles');
    bindTrends();
    bindRanking();
    const [ranking] = await Promise.all([api.ranking(state.indicator, p.label), drawSeries(p)]);
    state.ranking = ranking;
    renderRanking();
    drawGrid();
  }
  await refreshPipeline();
  state.lastUpdated = serverNow();
  state.unreachable = false;
  showBanner();
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
