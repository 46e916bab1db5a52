// How far behind the rollups are, from GET /v1/pipeline's sources: what the banner says about
// the numbers on screen. Pure, so that tests/unit/freshness.test.mjs can check it.

// Rollups that have not caught up for this long: the numbers are not live. (Quiet sources are
// not a reason: a commune's portal has no events at 3 a.m.; the panel shows their age.)
export const STALE_AFTER_SECONDS = 600;

/// `sources` as the API gives them; `nowMs` the server's clock (api.js, serverNow: a screen
/// whose clock runs ten minutes ahead would otherwise call live numbers stale).
/// - `neverRolledUp`: the sources with no rollup cycle recorded at all. Their measures are
///   empty, not zero: a processor that keeps them has never run, or its rollup is switched off.
///   Without them, a page with the other sources live would show no banner over empty tiles.
/// - `staleSince`: the oldest instant the rollups of the other sources cover, when older than
///   STALE_AFTER_SECONDS; null otherwise.
export function rollupLag(sources, nowMs) {
  const neverRolledUp = sources.filter((s) => !s.rollup_covered_until).map((s) => s.source);
  const covered = sources.filter((s) => s.rollup_covered_until).map((s) => Date.parse(s.rollup_covered_until));
  const oldest = covered.length ? Math.min(...covered) : null;
  const staleSince = oldest !== null && nowMs - oldest > STALE_AFTER_SECONDS * 1000 ? new Date(oldest) : null;
  return { neverRolledUp, staleSince };
}
