'use strict';
// The `AWS` global (aws-sdk v2): the core (config, credentials, signing, the node HTTP
// client over the https module) is in this bundle; each service client (AWS.S3,
// AWS.Kinesis, ...) is its own bundle, loaded the first time the code touches it, so a
// function pays only for the services it uses while `AWS` stays complete.
const n = globalThis.__sbNode;
const AWS = require('aws-sdk/lib/node_loader');

// Modules of the core that service bundles share (the same objects, not copies).
const modules = require('../../dist/gen/aws-core-modules.js');
for (const id of Object.keys(modules)) n.provide(`aws-sdk/${id}`, modules[id]);

const SERVICES = require('../../dist/gen/aws-services.json'); // [[className, bundle], ...]
for (const [name, bundle] of SERVICES) {
  Object.defineProperty(AWS, name, {
    configurable: true,
    enumerable: true,
    get() {
      delete AWS[name];
      n.load(bundle);
      return AWS[name];
    },
    set(v) {
      Object.defineProperty(AWS, name, { value: v, configurable: true, enumerable: true, writable: true });
    },
  });
}

globalThis.AWS = AWS;
