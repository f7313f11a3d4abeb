// Injected into every library bundle: the Node globals library code uses without
// requiring them, taken from the `node` bundle when the library is evaluated.
const n = globalThis.__sbNode;
export const process = n.require('process');
export const Buffer = n.require('buffer').Buffer;
export const setImmediate = n.require('timers').setImmediate;
export const clearImmediate = n.require('timers').clearImmediate;
export const TextEncoder = n.require('util').TextEncoder;
export const TextDecoder = n.require('util').TextDecoder;
export const performance = n.require('perf_hooks').performance;
