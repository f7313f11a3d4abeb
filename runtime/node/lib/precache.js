'use strict';
// Build step (run by build-modules.js in a child `node --no-node-snapshot`, like the host):
// evaluates every library bundle once in a scratch isolate and writes its V8 code cache to
// dist/cache/<bundle>.bin, so the first isolate a host builds with a library skips most of
// the compile. The host checks each cache (V8 rejects one from another V8 version or flags)
// and falls back to making its own. Nothing here runs user code or reaches the network.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const ivm = require('isolated-vm');
const modules = require('./modules');
const limits = require('./limits');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'cache');

function source(name) {
  return name === 'shim' ? fs.readFileSync(path.join(__dirname, 'shim.js'), 'utf8') : fs.readFileSync(path.join(DIST, `${name}.js`), 'utf8');
}

// The shim's own bridges, enough for libraries to load (nothing is sent anywhere).
function shimBridges(jail) {
  jail.setSync('__sb_limits', JSON.stringify(limits.config));
  jail.setSync('__sb_hash', new ivm.Callback((alg, key, parts, enc) => {
    const h = key ? crypto.createHmac(alg, Buffer.from(key[0], key[1])) : crypto.createHash(alg);
    for (const p of parts) h.update(Buffer.from(p[0], p[1]));
    return h.digest(enc);
  }));
  jail.setSync('__sb_random', new ivm.Callback((n) => crypto.randomBytes(n).toString('base64')));
  jail.setSync('__sb_uuid', new ivm.Callback(() => crypto.randomUUID()));
  for (const k of ['fetch', 'timer', 'clear', 'evend', 'evdone']) jail.setSync(`__sb_${k}`, new ivm.Callback(() => {}, { ignored: true }));
}

// Runs `names` in order in one isolate; writes the cache of each one in `save`.
function precache(names, save) {
  const isolate = new ivm.Isolate({ memoryLimit: 256 });
  const context = isolate.createContextSync();
  shimBridges(context.global);
  const run = (name) => {
    const src = source(name);
    isolate.compileScriptSync(src, { filename: `${name}.js` }).runSync(context, { timeout: 10000 });
    if (!save.has(name)) return;
    const again = isolate.compileScriptSync(src, { filename: `${name}.js`, produceCachedData: true });
    if (again.cachedData) fs.writeFileSync(path.join(OUT, `${name}.bin`), Buffer.from(again.cachedData.copy()));
  };
  try {
    for (const name of names) {
      if (name === 'node') modules.installBridges(context.global, (b) => { try { run(String(b)); return ''; } catch (e) { return e.message; } });
      run(name);
    }
  } finally {
    isolate.dispose();
  }
}

function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(DIST, 'manifest.json'), 'utf8'));
  const base = ['shim', 'buffer', 'url', 'node'];
  const libs = Object.keys(manifest).filter((n) => !['buffer', 'url', 'lodash', 'moment', 'xml', 'xml2js', 'node'].includes(n) && !n.startsWith('aws-') && n !== 'aws' && n !== 'google');
  precache(base, new Set(['node']));
  for (const lib of libs) precache(lib.startsWith('google-') ? base.concat('google', lib) : base.concat(lib), new Set([lib]));
  const services = Object.keys(manifest).filter((n) => n.startsWith('aws-'));
  precache(base.concat('aws', services), new Set(['aws', ...services]));
  precache(base.concat('google'), new Set(['google']));
  console.log(`precached ${fs.readdirSync(OUT).length} bundles`);
}

main();
