// Injected into every bundle: library code sometimes probes `process`.
export const process = { env: {}, nextTick: (fn, ...a) => Promise.resolve().then(() => fn(...a)), browser: true, version: '', versions: {} };
