'use strict';
// Node's `stream`: readable-stream 3 (Node 10's streams, user-land) over the legacy Stream
// base class, with the Node >= 15 helpers SDKs use.
const Stream = require('./stream-base');

module.exports = Stream;
Stream.Stream = Stream;
Stream.Readable = require('readable-stream/lib/_stream_readable.js');
Stream.Writable = require('readable-stream/lib/_stream_writable.js');
Stream.Duplex = require('readable-stream/lib/_stream_duplex.js');
Stream.Transform = require('readable-stream/lib/_stream_transform.js');
Stream.PassThrough = require('readable-stream/lib/_stream_passthrough.js');
Stream.finished = require('readable-stream/lib/internal/streams/end-of-stream.js');
Stream.pipeline = require('readable-stream/lib/internal/streams/pipeline.js');
Stream.promises = require('./streampromises');

Stream.isReadable = (s) => !!(s && typeof s.read === 'function' && s.readable !== false && !s.destroyed);
Stream.isErrored = (s) => !!(s && (s._readableState || s._writableState || {}).errored);
Stream.isDisturbed = (s) => !!(s && s._readableState && (s._readableState.endEmitted || s._readableState.flowing !== null));
Stream.addAbortSignal = (signal, s) => {
  if (signal && typeof signal.addEventListener === 'function') signal.addEventListener('abort', () => s.destroy(new Error('The operation was aborted')), { once: true });
  return s;
};
