// Injected into the `node` bundle itself (its polyfills reach for `process`).
export { default as process } from '../compat/process.js';
