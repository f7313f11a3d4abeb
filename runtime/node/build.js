'use strict';
// Bundles the pure-JS libraries exposed to user functions into IIFE scripts
// (dist/<name>.js) that each assign one global. Run by `npm run build` and
// automatically after `npm install` / `npm ci` (postinstall).
const path = require('path');
const fs = require('fs');

const DIST = path.join(__dirname, 'dist');
const STUBS = path.join(__dirname, 'lib', 'stubs');
const SHIM_DIR = path.join(__dirname, 'lib', 'shim');

// The in-isolate shim (dist/shim.js, evaluated first in every isolate): one strict-mode
// function body, so its parts are concatenated as they are, in this order (each part uses
// what the parts before it define; the first opens the closure, the last closes it).
const SHIM_PARTS = [
  'prelude', // host bridges captured, then removed from the global
  'containment', // ArrayBuffer without maxByteLength; live Intl objects capped
  'intrinsics', // intrinsics captured before user code runs; output limits; UTF-8 sizes
  'errors', // Segment's error classes and FetchError
  'base64', // bytes and base64 helpers, atob/btoa
  'console', // console, the call's logs
  'timers', // pending host operations, timers, settle
  'fetch', // Headers, Request, Response, fetch, the host request
  'crypto', // Node's crypto (hashing on the host), uuidv5
  'segment', // cache, the Segment emitter, the source request object
  'dispatch', // handler lookup and dispatch
  'result', // error serialisation and the result envelope
  'invoke', // the output cap, invoke, invokeBatch; the internals handed to the host
];

function buildShim() {
  const extra = fs.readdirSync(SHIM_DIR).filter((f) => f.endsWith('.js') && !SHIM_PARTS.includes(f.slice(0, -3)));
  if (extra.length) throw new Error(`build.js: lib/shim/${extra[0]} is not in SHIM_PARTS`);
  const source = SHIM_PARTS.map((p) => fs.readFileSync(path.join(SHIM_DIR, `${p}.js`), 'utf8')).join('');
  fs.mkdirSync(DIST, { recursive: true });
  fs.writeFileSync(path.join(DIST, 'shim.js'), source);
  return Buffer.byteLength(source);
}

// name -> source of the entry module (resolved from this folder)
const BUNDLES = {
  url: `const u = require('whatwg-url-without-unicode');
        globalThis.URL = u.URL; globalThis.URLSearchParams = u.URLSearchParams;`,
  buffer: `globalThis.Buffer = require('./lib/compat/buffer.js').Buffer;`,
  lodash: `globalThis._ = require('lodash');`,
  moment: `globalThis.moment = require('moment-timezone/builds/moment-timezone-with-data.js');`,
  xml: `globalThis.xml = require('xml');`,
  xml2js: `globalThis.xml2js = require('xml2js');`,
};

async function main() {
  const shimBytes = buildShim();
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch (e) {
    console.error('build.js: esbuild is not installed (it is a devDependency); skipping bundle build');
    process.exit(process.env.npm_lifecycle_event === 'postinstall' ? 0 : 1);
  }
  fs.mkdirSync(DIST, { recursive: true });
  const manifest = {};
  for (const [name, contents] of Object.entries(BUNDLES)) {
    const outfile = path.join(DIST, `${name}.js`);
    await esbuild.build({
      stdin: { contents, resolveDir: __dirname, sourcefile: `${name}-entry.js` },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2020',
      minify: true,
      legalComments: 'none',
      outfile,
      logLevel: 'warning',
      define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
      alias: {
        // Node core modules some libraries reach for (xml2js/sax); small stubs.
        events: require.resolve('events/'),
        timers: path.join(STUBS, 'timers.js'),
        stream: path.join(STUBS, 'stream.js'),
        string_decoder: path.join(STUBS, 'string_decoder.js'),
        buffer: require.resolve('buffer/'),
        punycode: require.resolve('punycode/'),
      },
      inject: [path.join(STUBS, 'inject.js')],
    });
    manifest[name] = fs.statSync(outfile).size;
  }
  // The Node-compatible layer and Segment's preinstalled libraries (lib/build-modules.js).
  Object.assign(manifest, await require('./lib/build-modules').buildModules(esbuild, DIST));
  fs.writeFileSync(path.join(DIST, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  require('./lib/build-modules').precacheModules();
  const services = Object.keys(manifest).filter((k) => k.startsWith('aws-'));
  const listed = Object.entries(manifest).filter(([k]) => !k.startsWith('aws-'));
  console.log(`built shim ${(shimBytes / 1024).toFixed(1)}KB,`, listed.map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}KB`).join(', '),
    `and ${services.length} AWS service bundles (${(services.reduce((n, k) => n + manifest[k], 0) / 1048576).toFixed(1)}MB)`);
}

main().catch((e) => { console.error(e); process.exit(1); });
