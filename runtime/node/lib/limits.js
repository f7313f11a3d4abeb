'use strict';
// The sandbox's limits: the defaults in limits.json (also read by runtime/sandbox/limits.py, so
// each default is stated once), overridden by the JSON object in SANDBOX_LIMITS, which
// sandbox.py sets from its SandboxLimits. Keys are snake_case there; `config` gives the same
// values under camelCase names for the host's code. An unknown key or a value that is not a
// non-negative number stops the host (exit 78): a typo must not silently keep a default.
const DEFAULTS = require('./limits.json');

function parse(text) {
  const given = text ? JSON.parse(text) : {};
  if (!given || typeof given !== 'object' || Array.isArray(given)) throw new Error('SANDBOX_LIMITS must be a JSON object');
  const out = Object.assign({}, DEFAULTS);
  for (const [k, v] of Object.entries(given)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULTS, k)) throw new Error(`unknown limit ${k}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`limit ${k} must be a non-negative number`);
    out[k] = v;
  }
  return out;
}

const camel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

function load(text) {
  const limits = parse(text);
  const config = {};
  for (const [k, v] of Object.entries(limits)) config[camel(k)] = v;
  return config;
}

let config;
try {
  config = load(process.env.SANDBOX_LIMITS);
} catch (e) {
  process.stderr.write(`sandbox host: bad SANDBOX_LIMITS: ${e.message}\n`);
  process.exit(78);
}

module.exports = { config, load, DEFAULTS };
