'use strict';
// The `google` global: google.cloud.storage and google.cloud.bigquery (REST clients) are
// loaded on first use; the gRPC-only clients fail with ModuleNotSupported naming the
// module, because gRPC needs HTTP/2 sockets that functions do not have.
const n = globalThis.__sbNode;

const cloud = {};
function lazy(name, bundle, pkg) {
  Object.defineProperty(cloud, name, {
    configurable: true,
    enumerable: true,
    get() {
      n.load(bundle);
      const value = n.require(pkg);
      Object.defineProperty(cloud, name, { value, configurable: true, enumerable: true, writable: true });
      return value;
    },
  });
}
lazy('storage', 'google-storage', '@google-cloud/storage');
lazy('bigquery', 'google-bigquery', '@google-cloud/bigquery');

const GRPC = {
  pubsub: ['@google-cloud/pubsub', 'https://pubsub.googleapis.com/v1/projects/PROJECT/topics/TOPIC:publish'],
  firestore: ['@google-cloud/firestore', 'https://firestore.googleapis.com/v1/projects/PROJECT/databases/(default)/documents/...'],
  datastore: ['@google-cloud/datastore', 'https://datastore.googleapis.com/v1/projects/PROJECT:commit'],
  tasks: ['@google-cloud/tasks', 'https://cloudtasks.googleapis.com/v2/projects/PROJECT/locations/LOCATION/queues/QUEUE/tasks'],
  functions: ['@google-cloud/functions', 'https://cloudfunctions.googleapis.com/v1/projects/PROJECT/locations/LOCATION/functions'],
  automl: ['@google-cloud/automl', 'https://automl.googleapis.com/v1/projects/PROJECT/locations/LOCATION/models/MODEL:predict'],
};
for (const [name, [pkg, rest]] of Object.entries(GRPC)) {
  Object.defineProperty(cloud, name, {
    configurable: true,
    enumerable: true,
    get() {
      throw new n.ModuleNotSupported(
        `google.cloud.${name} (${pkg}) is not available in functions: it speaks gRPC over HTTP/2, which needs sockets. ` +
        `Call its REST API with fetch instead (${rest}), with an OAuth token from google.cloud.storage's auth client or jsonwebtoken.`,
      );
    },
  });
}

globalThis.google = { cloud };
