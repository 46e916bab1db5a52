// Builds the dashboard into dist/: one bundled, minified script and stylesheet with content
// hashes in their names, index.html pointing at them, and a .gz beside every file (ioc-api
// serves those to browsers that accept gzip). Fails when the compressed assets exceed the
// 500 KB budget, and prints what they weigh.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BUDGET_BYTES = 500 * 1024;
const dist = new URL('./dist/', import.meta.url).pathname;
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });

const result = await build({
  entryPoints: ['src/main.js', 'src/app.css'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'external',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((path) => path.split('/').pop());
const script = outputs.find((name) => name.startsWith('main-') && name.endsWith('.js'));
const style = outputs.find((name) => name.startsWith('app-') && name.endsWith('.css'));
const html = readFileSync('index.html', 'utf8')
  .replace('%SCRIPT%', `assets/${script}`)
  .replace('%STYLE%', `assets/${style}`);
writeFileSync(join(dist, 'index.html'), html);

let compressed = 0;
const sizes = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      walk(path);
    } else if (!name.endsWith('.gz')) {
      const gz = gzipSync(readFileSync(path), { level: 9 });
      writeFileSync(`${path}.gz`, gz);
      compressed += gz.length;
      sizes.push(`${path.slice(dist.length)}: ${(gz.length / 1024).toFixed(1)} KB gzip`);
    }
  }
};
walk(dist);
writeFileSync(join(dist, 'budget.json'), JSON.stringify({ compressed_bytes: compressed, budget_bytes: BUDGET_BYTES }, null, 2));
console.log(sizes.join('\n'));
console.log(`total: ${(compressed / 1024).toFixed(1)} KB gzip (budget ${BUDGET_BYTES / 1024} KB)`);
if (compressed > BUDGET_BYTES) {
  console.error('the dashboard is over its 500 KB budget of compressed assets');
  process.exit(1);
}
