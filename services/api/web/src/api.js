// The API, same origin. Every call fails with an Error whose message says what went wrong.

// How far the server's clock is ahead of this computer's, from the Date header of its last
// answer. The dashboard's "today" is the province's day on the server (serverNow): a wall
// screen's computer whose clock ran ahead asked, at midnight on the first of a month, for a
// month that had not begun on the server, which refuses a period beginning after its today.
let serverAheadMs = 0;

function noteServerClock(response) {
  const sent = Date.parse(response.headers.get('Date') || '');
  // The header counts whole seconds and the answer took time to come: this errs behind the
  // server, never ahead of it (a day that turns a second late asks for nothing to come).
  if (!Number.isNaN(sent)) serverAheadMs = sent - Date.now();
}

/// The server's time now, as well as its last answer tells (this computer's before any answer).
export function serverNow() {
  return new Date(Date.now() + serverAheadMs);
}

async function get(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  noteServerClock(response);
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      message = (await response.json()).message || message;
    } catch {
      // not JSON: keep the status
    }
    throw new Error(`${path}: ${message}`);
  }
  return response.json();
}

const query = (params) =>
  Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');

export const api = {
  indicators: () => get('/v1/indicators'),
  units: () => get('/v1/units'),
  kpis: (from, to, unit) => get(`/v1/kpis?${query({ from, to, unit })}`),
  series: (id, bucket, from, to, unit) => get(`/v1/kpis/${encodeURIComponent(id)}/series?${query({ bucket, from, to, unit })}`),
  unit: (code, from, to) => get(`/v1/units/${encodeURIComponent(code)}?${query({ from, to })}`),
  ranking: (id, period) => get(`/v1/rankings/${encodeURIComponent(id)}?${query({ period })}`),
  pipeline: () => get('/v1/pipeline'),
};
