// The API, same origin. Every call fails with an Error whose message says what went wrong.
async function get(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
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
