// The parts of the page outside #main that every load updates: the fixed words, and the live
// line and banner that say how old the numbers are.
import * as fmt from './format.js';
import { state } from './state.js';
import { $, tr } from './view.js';

/// index.html carries the Vietnamese words (data-i18n) so the page reads before the script runs.
export function applyStaticTexts() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll('[data-i18n]').forEach((el) => {
    el.textContent = tr(el.dataset.i18n);
  });
  const button = $('#lang-switch');
  button.textContent = tr('switchTo');
  button.setAttribute('aria-pressed', String(state.lang === 'en'));
  $('#period-select').value = state.period;
}

/// An unreachable API outranks the rollups' lag: then even the lag is not known. A source never
/// rolled up outranks a stale one: its tiles are empty, not merely old.
export function showBanner() {
  const { neverRolledUp, staleSince } = state.rollupLag;
  const banner = $('#banner');
  if (state.unreachable) {
    const when = state.lastUpdated ? fmt.time(state.lang, state.lastUpdated) : '–';
    banner.textContent = `${tr('unreachable')} ${when}.`;
    banner.dataset.kind = 'unreachable';
    banner.hidden = false;
  } else if (neverRolledUp.length) {
    banner.textContent = `${tr('neverRolledUp')} ${neverRolledUp.map((source) => tr(source)).join(', ')}. ${tr('neverRolledUpEffect')}`;
    banner.dataset.kind = 'never-rolled-up';
    banner.hidden = false;
  } else if (staleSince) {
    banner.textContent = `${tr('stale')} ${fmt.time(state.lang, staleSince)}.`;
    banner.dataset.kind = 'stale';
    banner.hidden = false;
  } else {
    banner.hidden = true;
    delete banner.dataset.kind;
  }
  document.body.classList.toggle('is-stale', Boolean(state.unreachable || neverRolledUp.length || staleSince));
  $('#live').textContent = state.lastUpdated ? `${state.unreachable ? '' : `● ${tr('live')} · `}${tr('updatedAt')} ${fmt.time(state.lang, state.lastUpdated)}` : '';
}
