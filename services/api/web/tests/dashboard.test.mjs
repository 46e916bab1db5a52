// The dashboard in a real headless Chromium (Debian's), against a running ioc-api with
// simulator data. Run by tests/e2e/tests/dashboard.rs, which starts the stack and sets:
//   IOC_DASHBOARD_URL   the api serving the page and the data
//   IOC_STALE_API_URL   a second api process over the same data, and
//   IOC_STALE_API_PID   its pid: the stale-data test kills it while the page is open
//   IOC_UNROLLED_API_URL  an api over a migrated database that no rollup has run on
//   IOC_ARTIFACTS       where screenshots and the budget report go
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { percent } from '../src/format.js';

// axe-core: the accessibility rules engine, injected into the page under test.
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const BASE = process.env.IOC_DASHBOARD_URL;
const ARTIFACTS = process.env.IOC_ARTIFACTS || 'test-results';
mkdirSync(ARTIFACTS, { recursive: true });

let browser;
before(async () => {
  assert.ok(BASE, 'IOC_DASHBOARD_URL must name a running ioc-api');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => browser?.close());

/// A fresh page at 1920x1080 that records console errors and failed requests; `prepare` runs
/// before it loads.
async function open(path, base = BASE, prepare = async () => {}) {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  await prepare(page);
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  await page.goto(`${base}/${path}`);
  return { page, problems };
}

// The page's own formatting (tests/unit/format.test.mjs checks it, the ends included): these
// tests check that each tile shows the API's value, not how a value is written.
const percentVi = (ratio) => percent('vi', ratio);

function monthToDate() {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh' }).format(new Date());
  return { from: `${today.slice(0, 8)}01`, to: today };
}

test('the overview loads without console errors and its tiles show what the API says', async () => {
  const started = Date.now();
  const { page, problems } = await open('');
  await page.waitForSelector('.tile [data-value]');
  const firstTilesMs = await page.evaluate(() => {
    const mark = performance.getEntriesByName('ioc-tiles')[0];
    return mark ? mark.startTime : null;
  });
  await page.waitForSelector('#ranking-table tbody tr');
  await page.waitForSelector('#pipeline-table tbody tr');

  const { from, to } = monthToDate();
  const kpis = await (await fetch(`${BASE}/v1/kpis?from=${from}&to=${to}`)).json();
  const byId = Object.fromEntries(kpis.indicators.map((v) => [v.id, v]));
  const tiles = await page.$$eval('.tile', (nodes) => nodes.map((n) => [n.dataset.indicator, n.querySelector('[data-value]').textContent.trim()]));
  assert.ok(tiles.length >= 10, `only ${tiles.length} tiles`);
  for (const [id, shown] of tiles) {
    const expected = byId[id].denominator === 0 ? 'Chưa có số liệu' : percentVi(byId[id].ratio);
    assert.equal(shown, expected, `tile ${id}`);
  }
  assert.match(tiles.find(([id]) => id === 'skills_coverage_adult')[1], /^\d{1,3},\d{2}%$/, 'vi-VN percentage');
  const pillars = await page.$$eval('section.pillar h2', (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(pillars, ['Chính quyền số', 'Kinh tế số', 'Xã hội số']);
  const rows = await page.$$eval('#ranking-table tbody tr', (nodes) => nodes.length);
  assert.equal(rows, 148, 'the ranking lists the 148 communes and wards');
  await page.screenshot({ path: join(ARTIFACTS, 'overview-vi.png'), fullPage: true });

  // Budgets: what the browser fetched (compressed) and when the tiles were drawn.
  const transferred = await page.evaluate(() =>
    performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
      .filter((e) => !e.name.includes('/v1/'))
      .reduce((sum, e) => sum + (e.encodedBodySize || 0), 0),
  );
  writeFileSync(
    join(ARTIFACTS, 'budgets.json'),
    JSON.stringify({ first_tiles_ms: firstTilesMs, assets_compressed_bytes: transferred, wall_clock_to_ranking_ms: Date.now() - started }, null, 2),
  );
  assert.ok(transferred > 0 && transferred < 500 * 1024, `assets weigh ${transferred} bytes compressed`);
  assert.deepEqual(problems, []);
  await page.close();
});

test("a screen whose clock runs weeks ahead counts the days on the server's clock", async () => {
  // Forty days ahead: on any day, a month that has not begun on the server (which refuses it)
  // and rollups that look forty days old. Date is fixed there; timers still run.
  const ahead = async (page) => page.clock.setFixedTime(new Date(Date.now() + 40 * 86_400_000));
  const { page, problems } = await open('', BASE, ahead);
  await page.waitForSelector('.tile [data-value]');
  await page.waitForSelector('#pipeline-table tbody tr');
  const { from, to } = monthToDate();
  const shown = (day) => {
    const [y, m, d] = day.split('-').map(Number);
    return new Intl.DateTimeFormat('vi-VN', { timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
  };
  assert.equal(await page.textContent('#period-label'), `${shown(from)} – ${shown(to)}`, "the server's month so far");
  assert.equal(await page.isHidden('#banner'), true, `no banner: ${await page.textContent('#banner')}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('tiles tell a target from a scoring threshold, and the new indicators sit in their pillar', async () => {
  const { page, problems } = await open('');
  await page.waitForSelector('.tile [data-value]');
  const { from, to } = monthToDate();
  const kpis = await (await fetch(`${BASE}/v1/kpis?from=${from}&to=${to}`)).json();
  const byId = Object.fromEntries(kpis.indicators.map((v) => [v.id, v]));
  const goalOf = async (id) => (await page.textContent(`.tile[data-indicator="${id}"] [data-goal]`)).trim();
  // 3.3 has a Decision 766 threshold, not a target; coverage has the plan's target; 5.4 has none.
  assert.equal(byId.online_submission_rate.target, null);
  assert.match(await goalOf('online_submission_rate'), /^Ngưỡng điểm tối đa \(không phải chỉ tiêu\): 50,00%$/);
  assert.match(await goalOf('skills_coverage_pupil'), /^Chỉ tiêu: 100,00% · /);
  assert.equal(await goalOf('satisfaction_index'), 'Chưa đặt chỉ tiêu');
  const source = await page.textContent('.tile[data-indicator="skills_coverage_pupil"] .source');
  assert.equal(source.trim(), byId.skills_coverage_pupil.target_source);
  const pillarOf = async (id) => page.$eval(`.tile[data-indicator="${id}"]`, (n) => n.closest('section.pillar').querySelector('h2').textContent);
  assert.equal(await pillarOf('fully_online_rate'), 'Chính quyền số');
  assert.equal(await pillarOf('weekly_class_coverage'), 'Xã hội số');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the communes that held no class last week are listed, as the ranking says', async () => {
  const { page, problems } = await open('');
  await page.waitForSelector('.weekly-classes .facts');
  const label = await page.evaluate(() => {
    // The same last whole ISO week the page asks for.
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh' }).format(new Date());
    const [y, m, d] = today.split('-').map(Number);
    const now = new Date(Date.UTC(y, m - 1, d));
    const monday = new Date(now - (((now.getUTCDay() + 6) % 7) + 7) * 86400000);
    const thursday = new Date(monday.getTime() + 3 * 86400000);
    const week = Math.floor((thursday - Date.UTC(thursday.getUTCFullYear(), 0, 1)) / 86400000 / 7) + 1;
    return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
  });
  const ranking = await (await fetch(`${BASE}/v1/rankings/weekly_class_coverage?period=${label}`)).json();
  const missing = ranking.units.filter((e) => e.value.numerator === 0).map((e) => e.unit.code).sort();
  const listed = (await page.$$eval('.weekly-classes li[data-unit]', (nodes) => nodes.map((n) => n.dataset.unit))).sort();
  assert.deepEqual(listed, missing);
  const held = Number(await page.getAttribute('.weekly-classes .facts', 'data-held'));
  assert.equal(held + missing.length, 148);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the language switch turns the page to English and back', async () => {
  const { page, problems } = await open('');
  await page.waitForSelector('.tile [data-value]');
  await page.click('#lang-switch');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  // The tiles are drawn again once the data is back, in English.
  await page.waitForFunction(() => document.querySelector('section.pillar h2')?.textContent === 'Digital government');
  const heading = await page.textContent('h1');
  assert.equal(heading, 'Phú Thọ Intelligent Operations Centre');
  const pillars = await page.$$eval('section.pillar h2', (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(pillars, ['Digital government', 'Digital economy', 'Digital society']);
  assert.match(page.url(), /lang=en/, 'the URL keeps the language');
  await page.screenshot({ path: join(ARTIFACTS, 'overview-en.png') });
  await page.click('#lang-switch');
  await page.waitForFunction(() => document.documentElement.lang === 'vi');
  assert.deepEqual(problems, []);
  await page.close();
});

test('choosing a unit in the ranking opens its profile, and the link can be shared', async () => {
  const { page, problems } = await open('');
  const link = await page.waitForSelector('#ranking-table tbody tr a');
  const name = (await link.textContent()).trim();
  await link.click();
  await page.waitForSelector('#unit-title');
  assert.match(await page.textContent('#unit-title'), new RegExp(name));
  const shared = page.url();
  assert.match(shared, /#\/unit\/[^?]+\?/);
  const code = shared.match(/#\/unit\/([^?]+)/)[1];
  await page.waitForSelector('.profile tbody tr');
  await page.screenshot({ path: join(ARTIFACTS, 'unit-profile.png'), fullPage: true });

  // The same link in a new page shows the same unit, with the API's numbers.
  const again = await open(shared.slice(shared.indexOf('#')));
  await again.page.waitForSelector('.profile tbody tr');
  const { from, to } = monthToDate();
  const profile = await (await fetch(`${BASE}/v1/units/${code}?from=${from}&to=${to}`)).json();
  const online = profile.indicators.find((v) => v.id === 'online_submission_rate');
  const shown = await again.page.textContent('.profile tr[data-indicator="online_submission_rate"] [data-value]');
  assert.equal(shown.trim(), online.ratio === null ? '–' : percentVi(online.ratio));
  assert.deepEqual(problems.concat(again.problems), []);
  await again.page.close();
  await page.close();
});

test('the keyboard reaches the controls and the ranking can be sorted', async () => {
  const { page, problems } = await open('');
  await page.waitForSelector('#ranking-table tbody tr');
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.className);
  assert.equal(first, 'skip', 'the first Tab stop skips to the content');
  await page.focus('#ranking-table [data-sort="unit"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#ranking-table th[aria-sort="ascending"] [data-sort="unit"]');
  const names = await page.$$eval('#ranking-table tbody tr td:nth-child(2)', (nodes) => nodes.map((n) => n.textContent.trim()));
  const sorted = [...names].sort((a, b) => a.localeCompare(b, 'vi'));
  assert.deepEqual(names, sorted);
  assert.deepEqual(problems, []);
  await page.close();
});

/// WCAG 2 A and AA violations axe finds on the page, one line each.
async function accessibilityViolations(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }));
  return result.violations.map((v) => `${v.id} (${v.nodes.length}×): ${v.help} — ${v.nodes[0]?.target}`);
}

test('the overview and a unit profile pass the WCAG 2 AA checks of axe, contrast included', async () => {
  const { page, problems } = await open('');
  await page.waitForSelector('#ranking-table tbody tr');
  await page.waitForSelector('#pipeline-table tbody tr');
  assert.deepEqual(await accessibilityViolations(page), []);
  await page.click('#ranking-table tbody tr a');
  await page.waitForSelector('.profile tbody tr');
  assert.deepEqual(await accessibilityViolations(page), []);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a banner says the data is stale when the API stops answering', async () => {
  const base = process.env.IOC_STALE_API_URL;
  const pid = Number(process.env.IOC_STALE_API_PID);
  assert.ok(base && pid, 'IOC_STALE_API_URL and IOC_STALE_API_PID must be set');
  const { page } = await open('#/?refresh=2', base);
  const messages = [];
  page.on('console', (message) => messages.push(message.text()));
  await page.waitForSelector('.tile [data-value]');
  await page.waitForSelector('#pipeline-table tbody tr');
  assert.equal(await page.isHidden('#banner'), true, `no banner while the API answers: ${await page.textContent('#banner')} ${messages.join(' | ')}`);
  process.kill(pid, 'SIGKILL');
  await page.waitForSelector('#banner[data-kind="unreachable"]', { timeout: 20_000 });
  const text = await page.textContent('#banner');
  assert.match(text, /Không kết nối được máy chủ số liệu/);
  await page.screenshot({ path: join(ARTIFACTS, 'stale-banner.png') });
  await page.close();
});

test('a banner names the sources no rollup has run for, whose tiles are empty rather than zero', async () => {
  const base = process.env.IOC_UNROLLED_API_URL;
  assert.ok(base, 'IOC_UNROLLED_API_URL must be set');
  const { page } = await open('', base);
  await page.waitForSelector('#banner[data-kind="never-rolled-up"]', { timeout: 20_000 });
  const text = await page.textContent('#banner');
  for (const name of ['Cổng dịch vụ công', 'Văn bản điện tử, hồ sơ công việc', 'Nền tảng Bình dân học vụ số']) {
    assert.ok(text.includes(name), `the banner names ${name}: ${text}`);
  }
  assert.match(text, /không phải bằng 0/);
  assert.equal(await page.evaluate(() => document.body.classList.contains('is-stale')), true, 'the numbers are dimmed');
  await page.close();
});
