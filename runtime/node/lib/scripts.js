'use strict';
// The scripts every isolate runs before the user's code, read once per host and compiled
// with a V8 code cache (the first isolate's compile serves the later ones): the shim
// (dist/shim.js, made from lib/shim/ by build.js), the library bundles of LIBS (dist/), and
// the handler resolver and list evaluated after the user's code.
const fs = require('fs');
const path = require('path');
const { config: CONFIG } = require('./limits');

const DIST = path.join(__dirname, '..', 'dist');
function distSource(name) {
  const f = path.join(DIST, `${name}.js`);
  if (!fs.existsSync(f)) {
    process.stderr.write(`sandbox host: missing ${f}; run \`npm run build\` in runtime/node\n`);
    process.exit(78);
  }
  return fs.readFileSync(f, 'utf8');
}

const SHIM_SRC = distSource('shim');
// The limits the shim enforces inside the isolate (it throws to the user's code).
const SHIM_LIMITS = {};
for (const k of ['maxTimers', 'maxTimerStarts', 'minIntervalMs', 'maxLogLines', 'maxLogLineBytes', 'maxOutputBytes', 'maxIntlObjects']) SHIM_LIMITS[k] = CONFIG[k];
const LIBS = [
  // [bundle name, test on the user's code]
  // whatwg-url needs Buffer, so `buffer` is loaded whenever `url` is.
  ['buffer', (code, kind) => kind === 'source' || /\b(Buffer|crypto|buffer|uuidv5|URL|URLSearchParams)\b/.test(code)],
  ['url', (code, kind) => kind === 'source' || /\bURL(SearchParams)?\b/.test(code)],
  ['lodash', (code) => /(^|[^\w$.])_(?![\w$])/m.test(code)],
  ['moment', (code) => /\bmoment\b/.test(code)],
  ['xml', (code) => /(^|[^\w$.])xml(?![\w$])/m.test(code)],
  ['xml2js', (code) => /\bxml2js\b/.test(code)],
];
const libSources = {};
for (const [name] of LIBS) libSources[name] = distSource(name);
const codeCache = new Map(); // name -> cachedData (ExternalCopy)

const HANDLERS = ['onRequest', 'onTrack', 'onIdentify', 'onPage', 'onScreen', 'onGroup', 'onAlias', 'onDelete', 'onBatch'];
const RESOLVER_SRC = `(function (n) { switch (n) {${HANDLERS.map((h) => ` case '${h}': return typeof ${h} === 'undefined' ? undefined : ${h};`).join('')} } return undefined; })`;
const LIST_SRC = `(function () { var r = [];${HANDLERS.map((h) => ` if (typeof ${h} === 'function') r.push('${h}');`).join('')} return r.join(','); })()`;

function runLib(isolate, context, name, source) {
  const cached = codeCache.get(name);
  const script = isolate.compileScriptSync(source, cached ? { filename: `${name}.js`, cachedData: cached } : { filename: `${name}.js` });
  script.runSync(context, { timeout: 2000 });
  script.release();
  if (!cached) {
    // Cached after the first run: compiling the same source again returns the script V8 just
    // ran (its per-isolate compilation cache), so the cache also holds every function that
    // run compiled, not only the top level (about 2x faster loads of the big bundles).
    const again = isolate.compileScriptSync(source, { filename: `${name}.js`, produceCachedData: true });
    if (again.cachedData) codeCache.set(name, again.cachedData);
    again.release();
  }
}

module.exports = { SHIM_SRC, SHIM_LIMITS, LIBS, libSources, HANDLERS, RESOLVER_SRC, LIST_SRC, runLib };
