'use strict';
// Build of the Node-compatible layer and of Segment's preinstalled libraries (called by
// build.js): dist/node.js (lib/compat, Node's core modules), one bundle per library global
// (lib/bundles/simple.js), the aws-sdk core (dist/aws.js) and one bundle per AWS service
// (dist/aws-<id>.js, loaded on first use). Library bundles are built for Node (their Node
// entry points) with every Node core module resolved to __sbNode.require(name).
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const crypto = require('crypto');
const http = require('http');

const ROOT = path.join(__dirname, '..');
const COMPAT = path.join(__dirname, 'compat');
const BUNDLES = path.join(__dirname, 'bundles');

const BUILTINS = new Set(['assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'console', 'constants', 'crypto',
  'dgram', 'diagnostics_channel', 'dns', 'domain', 'events', 'fs', 'http', 'http2', 'https', 'inspector', 'module', 'net',
  'os', 'path', 'perf_hooks', 'process', 'punycode', 'querystring', 'readline', 'stream', 'string_decoder', 'sys',
  'timers', 'tls', 'tty', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib']);

function builtinId(spec) {
  const s = spec.replace(/^node:/, '');
  const top = s.split('/')[0];
  if (!BUILTINS.has(top) || s.endsWith('/')) return null;
  return s;
}

const DEFINES = {
  __SB_ZLIB_CONSTANTS__: JSON.stringify(zlib.constants),
  __SB_CRYPTO_CONSTANTS__: JSON.stringify(crypto.constants),
  __SB_HTTP_STATUS_CODES__: JSON.stringify(http.STATUS_CODES),
  __SB_HTTP_METHODS__: JSON.stringify(http.METHODS),
  __SB_NODE_VERSION__: JSON.stringify(process.version),
};

function nodeCoreOptions(outfile) {
  return {
    entryPoints: [path.join(COMPAT, 'index.js')],
    outfile,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'error',
    define: Object.assign({ global: 'globalThis' }, DEFINES),
    inject: [path.join(BUNDLES, 'node-inject.js')],
    plugins: [streamPlugin()],
    alias: {
      buffer: path.join(COMPAT, 'buffermod.js'),
      events: require.resolve('events/'),
      stream: require.resolve('stream-browserify'),
      string_decoder: require.resolve('string_decoder/'),
      util: require.resolve('util/'),
      url: require.resolve('url/'),
      punycode: require.resolve('punycode/'),
      process: path.join(COMPAT, 'process.js'),
      querystring: require.resolve('querystring-es3'),
    },
  };
}

// readable-stream's browser build: its Stream base is the legacy Stream of lib/compat (so
// every stream is `instanceof Stream`, as in Node), and Readable.from is the real one.
function streamPlugin() {
  const rsDir = path.dirname(require.resolve('readable-stream/package.json'));
  return {
    name: 'sb-stream',
    setup(build) {
      build.onResolve({ filter: /internal\/streams\/(stream|from)(-browser)?(\.js)?$/ }, (args) => {
        if (!args.importer.startsWith(rsDir)) return undefined;
        if (/stream(-browser)?(\.js)?$/.test(args.path)) return { path: path.join(COMPAT, 'stream-base.js') };
        return { path: path.join(rsDir, 'lib', 'internal', 'streams', 'from.js') };
      });
    },
  };
}

// Node core modules -> the `node` bundle at run time; `provided` maps resolved file paths
// to module ids another bundle already holds (the aws-sdk core for service bundles).
function libPlugin(provided) {
  return {
    name: 'sb-node-core',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData && args.pluginData.sbSkip) return undefined;
        if (args.kind === 'entry-point') return undefined;
        const id = builtinId(args.path);
        if (id) return { path: id, namespace: 'sbnode' };
        if (!provided) return undefined;
        const r = await build.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: { sbSkip: true } });
        if (r.errors.length || !provided.has(r.path)) return undefined;
        return { path: provided.get(r.path), namespace: 'sbnode' };
      });
      build.onLoad({ filter: /.*/, namespace: 'sbnode' }, (args) => ({
        contents: `module.exports = __sbNode.require(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  };
}

function libOptions(extra, provided) {
  return Object.assign({
    bundle: true,
    format: 'iife',
    platform: 'node',
    mainFields: ['main', 'module'],
    target: 'es2022',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'error',
    define: { global: 'globalThis', window: 'undefined', self: 'undefined', __dirname: '"/"', __filename: '"/index.js"' },
    inject: [path.join(BUNDLES, 'inject.js')],
    plugins: [libPlugin(provided)],
  }, extra);
}

async function buildAws(esbuild, dist, gen) {
  const awsRoot = path.dirname(require.resolve('aws-sdk/package.json'));
  // Pass 1: which aws-sdk/lib files the core pulls in.
  const probe = await esbuild.build(libOptions({
    stdin: { contents: "require('aws-sdk/lib/node_loader');", resolveDir: ROOT, sourcefile: 'aws-probe.js' },
    write: false,
    metafile: true,
    minify: false,
  }));
  const coreFiles = Object.keys(probe.metafile.inputs)
    .map((p) => path.resolve(ROOT, p))
    .filter((p) => p.startsWith(path.join(awsRoot, 'lib') + path.sep) && p.endsWith('.js'));
  const provided = new Map(coreFiles.map((p) => [p, `aws-sdk/${path.relative(awsRoot, p).split(path.sep).join('/')}`]));
  fs.writeFileSync(path.join(gen, 'aws-core-modules.js'), `module.exports = {\n${Array.from(provided.entries())
    .map(([file, id]) => `  ${JSON.stringify(id.slice('aws-sdk/'.length))}: require(${JSON.stringify(file)}),`).join('\n')}\n};\n`);
  // Service list from clients/all.js: `ClassName: require('./file')`.
  const all = fs.readFileSync(path.join(awsRoot, 'clients', 'all.js'), 'utf8');
  const services = Array.from(all.matchAll(/^\s*(\w+): require\('\.\/(\w+)'\)/gm), (m) => [m[1], `aws-${m[2]}`]);
  fs.writeFileSync(path.join(gen, 'aws-services.json'), JSON.stringify(services));
  await esbuild.build(libOptions({ entryPoints: [path.join(BUNDLES, 'aws.js')], outfile: path.join(dist, 'aws.js') }));
  const entryPoints = {};
  for (const [, bundle] of services) entryPoints[bundle] = path.join(awsRoot, 'clients', `${bundle.slice(4)}.js`);
  await esbuild.build(libOptions({ entryPoints, outdir: dist }, provided));
  return services.map(([, b]) => b);
}

async function buildModules(esbuild, dist) {
  const gen = path.join(dist, 'gen');
  fs.mkdirSync(gen, { recursive: true });
  await esbuild.build(nodeCoreOptions(path.join(dist, 'node.js')));
  const names = ['node'];
  const simple = require('./bundles/simple.js');
  for (const [name, contents] of Object.entries(simple)) {
    await esbuild.build(libOptions({
      stdin: { contents, resolveDir: ROOT, sourcefile: `${name}-entry.js` },
      outfile: path.join(dist, `${name}.js`),
    }));
    names.push(name);
  }
  names.push('aws', ...(await buildAws(esbuild, dist, gen)));
  const sizes = {};
  for (const n of names) sizes[n] = fs.statSync(path.join(dist, `${n}.js`)).size;
  return sizes;
}

// V8 code caches of the bundles (lib/precache.js), made by the same node binary the host
// uses, with the host's flag. Best effort: without them the host makes its own.
function precacheModules() {
  const { spawnSync } = require('child_process');
  const r = spawnSync(process.execPath, ['--no-node-snapshot', path.join(__dirname, 'precache.js')], { stdio: 'inherit', timeout: 300000 });
  if (r.status !== 0) console.error('build-modules: precaching bundles failed; hosts will compile them on first use');
}

module.exports = { buildModules, precacheModules, builtinId };
