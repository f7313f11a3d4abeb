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
  return fs.readFileSync(path.join(DIST, `${name}.js`), 'utf8'); // dist/shim.js too (build.js)
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

// What a typical function does with a library, run before the caches are written: V8 puts
// in a code cache only the functions compiled by then, and a function's first call compiles
// the others from source. For AWS that was most of its cold start (the core's and the
// Node-compatible layer's streams, util, url, the S3 client, SigV4 signing: ~40 ms of ~60).
// Nothing is sent: requests are only built or signed.
const EXERCISE = {
  aws: `(() => { const s3 = new AWS.S3({ region: 'us-east-1', accessKeyId: 'AKID', secretAccessKey: 'SECRET' });
    s3.getSignedUrl('getObject', { Bucket: 'b', Key: 'k' });
    for (const C of [AWS.Kinesis, AWS.SQS, AWS.DynamoDB]) new C({ region: 'us-east-1', accessKeyId: 'AKID', secretAccessKey: 'SECRET' });
    new AWS.DynamoDB.DocumentClient({ region: 'us-east-1', accessKeyId: 'AKID', secretAccessKey: 'SECRET' }); })()`,
  stripe: `(() => { const c = stripe('sk_test_1'); return typeof c.customers.create + typeof c.charges.create; })()`,
};

// Runs `names` in order in one isolate, then `exercise` (a script using them, errors
// ignored: the cache is only smaller); writes the cache of each one in `save`.
function precache(names, save, exercise) {
  const isolate = new ivm.Isolate({ memoryLimit: 256 });
  const context = isolate.createContextSync();
  shimBridges(context.global);
  const run = (name) => {
    isolate.compileScriptSync(source(name), { filename: `${name}.js` }).runSync(context, { timeout: 10000 });
  };
  try {
    for (const name of names) {
      if (name === 'node') modules.installBridges(context.global, (b) => { try { run(String(b)); return ''; } catch (e) { return e.message; } });
      run(name);
    }
    if (exercise) {
      try {
        isolate.compileScriptSync(exercise, { filename: 'exercise.js' }).runSync(context, { timeout: 10000 });
      } catch (e) {
        console.warn(`precache: exercising ${names[names.length - 1]} failed: ${e.message}`);
      }
    }
    // Compiling a source again returns the script V8 ran (its compilation cache), with every
    // function compiled so far.
    for (const name of save) {
      const again = isolate.compileScriptSync(source(name), { filename: `${name}.js`, produceCachedData: true });
      if (again.cachedData) fs.writeFileSync(path.join(OUT, `${name}.bin`), Buffer.from(again.cachedData.copy()));
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
  for (const lib of libs) precache(lib.startsWith('google-') ? base.concat('google', lib) : base.concat(lib), new Set([lib]), EXERCISE[lib]);
  const services = Object.keys(manifest).filter((n) => n.startsWith('aws-'));
  // The layer's cache is written again here, with the parts AWS exercised (streams, util,
  // url, https, crypto): the ones most libraries use.
  precache(base.concat('aws', services), new Set(['node', 'aws', ...services]), EXERCISE.aws);
  precache(base.concat('google'), new Set(['google']));
  console.log(`precached ${fs.readdirSync(OUT).length} bundles`);
}

main();
