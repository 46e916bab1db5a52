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

/// An unreachable API outranks stale rollups: then even the staleness is not known.
export function showBanner() {
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
