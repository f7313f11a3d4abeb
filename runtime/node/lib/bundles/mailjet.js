'use strict';
// node-mailjet 6 (axios over the https module). Segment's older runtime had node-mailjet 3,
// whose entry point was connect(apiKey, apiSecret, options); it is kept as an alias of
// apiConnect so both styles run.
const Mailjet = require('node-mailjet');

if (typeof Mailjet.connect !== 'function') {
  Mailjet.connect = function connect(apiKey, apiSecret, options) {
    const o = options || {};
    const config = {};
    if (o.url) config.host = String(o.url).replace(/^https?:\/\//, '');
    if (o.version) config.version = o.version;
    const opts = {};
    if (o.timeout) opts.timeout = o.timeout;
    return Mailjet.apiConnect(apiKey, apiSecret, { config, options: opts });
  };
}

module.exports = Mailjet;
