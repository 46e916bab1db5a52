// The view on screen and what the last load learned. The view lives in the URL hash, so a link
// opens the same view: parseHash and formatHash are pure, readHash and hashFor bind them to it.
const REFRESH_SECONDS = 30;

export const state = {
  lang: 'vi',
  period: 'month',
  indicator: 'online_submission_rate',
  bucket: 'day',
  unit: null,
  refreshSeconds: REFRESH_SECONDS,
  definitions: [],
  lastUpdated: null,
  unreachable: false,
  rollupLag: { neverRolledUp: [], staleSince: null },
  sort: { key: 'rank', ascending: true },
  ranking: null,
};

/// The view a hash names (`#/unit/<code>?lang=…&period=…&indicator=…&bucket=…&refresh=…`). A
/// value it does not know falls back to the default, so a mistyped link still opens a dashboard.
/// `indicator` is null when the hash names none: the one on screen stays, and load() checks it
/// against the definitions the API knows.
export function parseHash(hash) {
  const [path, search] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(search || '');
  const unit = (path || '').match(/^\/unit\/([^/]+)$/);
  const refresh = Number(params.get('refresh'));
  return {
    unit: unit ? decodeURIComponent(unit[1]) : null,
    lang: params.get('lang') === 'en' ? 'en' : 'vi',
    period: ['month', 'quarter', 'year'].includes(params.get('period')) ? params.get('period') : 'month',
    bucket: ['day', 'week', 'month'].includes(params.get('bucket')) ? params.get('bucket') : 'day',
    indicator: params.get('indicator') || null,
    refreshSeconds: refresh >= 1 && refresh <= 3600 ? refresh : REFRESH_SECONDS,
  };
}

/// The hash of a view; the default refresh is left out, so most links stay short.
export function formatHash(view) {
  const params = new URLSearchParams({ lang: view.lang, period: view.period, indicator: view.indicator, bucket: view.bucket });
  if (view.refreshSeconds !== REFRESH_SECONDS) params.set('refresh', String(view.refreshSeconds));
  const path = view.unit ? `/unit/${encodeURIComponent(view.unit)}` : '/';
  return `#${path}?${params}`;
}

export function readHash() {
  const { indicator, ...view } = parseHash(location.hash);
  Object.assign(state, view);
  if (indicator) state.indicator = indicator;
}

/// The hash of the view on screen with `overrides`: links and controls change one thing at a time.
export function hashFor(overrides = {}) {
  return formatHash({ ...state, ...overrides });
}

/// Changing the hash is the one way to change the view: the hashchange handler reloads.
export function navigate(overrides) {
  location.hash = hashFor(overrides);
}
