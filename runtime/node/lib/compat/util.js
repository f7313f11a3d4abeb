'use strict';
// Node's `util`: the npm `util` package plus TextEncoder/TextDecoder and the few helpers
// it lacks.
const util = require('util/');
const { TextEncoder, TextDecoder } = require('./text');

function isDeepStrictEqual(a, b) {
  try { require('assert/').deepStrictEqual(a, b); return true; } catch (e) { return false; }
}

function stripVTControlCharacters(s) {
  return String(s).replace(/[\u001B\u009B][[\]()#;?]*(?:(?:(?:(?:;[-a-zA-Z\d/#&.:=?%@~_]+)*|[a-zA-Z\d]+(?:;[-a-zA-Z\d/#&.:=?%@~_]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-ntqry=><~]))/g, '');
}

module.exports = Object.assign({}, util, {
  TextEncoder,
  TextDecoder,
  isDeepStrictEqual,
  stripVTControlCharacters,
  toUSVString: (s) => String(s).toWellFormed(),
  getSystemErrorName: (n) => `Unknown system error ${n}`,
  types: Object.assign({}, util.types),
});
