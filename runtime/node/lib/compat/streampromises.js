'use strict';
// Node's `stream/promises`.
const stream = require('./stream');

function pipeline(...streams) {
  return new Promise((resolve, reject) => stream.pipeline(...streams, (err) => (err ? reject(err) : resolve())));
}
function finished(s, opts) {
  return new Promise((resolve, reject) => stream.finished(s, opts || {}, (err) => (err ? reject(err) : resolve())));
}

module.exports = { pipeline, finished };
