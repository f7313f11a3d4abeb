  // ---- dispatch ------------------------------------------------------------------------
  const TYPE_HANDLERS = {
    identify: 'onIdentify', track: 'onTrack', page: 'onPage', screen: 'onScreen',
    group: 'onGroup', alias: 'onAlias', delete: 'onDelete',
  };
  let resolver = null; // set by the host after the user's code ran; reads global + script-scope bindings
  function getHandler(name) {
    let h;
    if (resolver) h = resolver(name);
    else h = g[name];
    return typeof h === 'function' ? h : undefined;
  }
  async function dispatch(kind, payload, settings) {
    if (kind === 'source') {
      const h = getHandler('onRequest');
      if (!h) throw new EventNotSupported('onRequest is not defined');
      return await h(new FunctionRequest(payload), settings);
    }
    if (isArray(payload)) {
      const h = getHandler('onBatch');
      if (!h) throw new EventNotSupported('onBatch is not defined');
      return await h(payload, settings);
    }
    return await dispatchEvent(payload, settings);
  }
  // One event to its per-type handler (never onBatch).
  async function dispatchEvent(payload, settings) {
    const type = payload && typeof payload === 'object' ? payload.type : undefined;
    const name = typeof type === 'string' && Object.prototype.hasOwnProperty.call(TYPE_HANDLERS, type) ? TYPE_HANDLERS[type] : null;
    if (!name) return undefined; // unknown type: no-op
    const h = getHandler(name);
    if (!h) throw new EventNotSupported(`${type} not supported (${name} is not defined)`);
    return await h(payload, settings);
  }
