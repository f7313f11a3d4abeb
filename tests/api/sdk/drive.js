// Drives Segment's own Public API TypeScript SDK, unmodified, against the platform.
// Usage: API_BASE_URL=http://host/api API_TOKEN=sgp_... node drive.js
// Prints one JSON line per step; exits non-zero at the first failed assertion.
'use strict';
const assert = require('node:assert/strict');
const PublicAPI = require('@segment/public-api-sdk-typescript');

const { functions } = PublicAPI.configureApis(process.env.API_TOKEN);
functions.basePath = process.env.API_BASE_URL; // the only change a Segment script needs

const CODE_V1 = 'async function onTrack(event, settings) { return event }';
const CODE_V2 = 'async function onTrack(event, settings) { return {...event, v: 2} }';

function step(name, detail) {
  console.log(JSON.stringify({ step: name, ...detail }));
}

async function main() {
  const created = await PublicAPI.unwrap(functions.createFunction({
    code: CODE_V1,
    displayName: 'SDK Function',
    resourceType: 'DESTINATION',
    description: 'made by the Segment SDK',
    settings: [{ name: 'apiKey', label: 'API Key', description: 'key', type: 'STRING', required: false, sensitive: true }],
  }));
  const id = created.function.id;
  assert.match(id, /^dfn_/);
  assert.equal(created.function.settings[0].name, 'apiKey');
  step('create', { id });

  const listed = await PublicAPI.unwrap(functions.listFunctions({ count: 10 }, 'DESTINATION'));
  assert.ok(listed.functions.some((f) => f.id === id));
  assert.equal(typeof listed.pagination.totalEntries, 'number');
  step('list', { total: listed.pagination.totalEntries });

  const got = await PublicAPI.unwrap(functions.getFunction(id));
  assert.equal(got.function.code, CODE_V1);
  step('get', {});

  const updated = await PublicAPI.unwrap(functions.updateFunction(id, { code: CODE_V2, displayName: 'SDK Function 2' }));
  assert.equal(updated.function.code, CODE_V2);
  assert.equal(updated.function.displayName, 'SDK Function 2');
  step('update', {});

  const versions = await PublicAPI.unwrap(functions.listFunctionVersions(id, { count: 10 }));
  assert.equal(versions.versions.length, 2);
  const first = versions.versions[versions.versions.length - 1];
  assert.equal(first.code, CODE_V1);
  step('versions', { count: versions.versions.length });

  const restored = await PublicAPI.unwrap(functions.restoreFunctionVersion(id, { versionId: first.id }));
  assert.equal(restored.version.code, CODE_V1);
  assert.notEqual(restored.version.id, first.id);
  step('restore', { version: restored.version.id });

  const deployed = await PublicAPI.unwrap(functions.createFunctionDeployment(id));
  assert.equal(deployed.functionDeployment.status, 'SUCCESS');
  step('deploy', {});

  const deleted = await PublicAPI.unwrap(functions.deleteFunction(id));
  assert.equal(deleted.status, 'SUCCESS');
  step('delete', {});

  await assert.rejects(PublicAPI.unwrap(functions.getFunction(id)), (error) => error.type === 'NotFound');
  step('gone', {});
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : JSON.stringify(error));
  process.exit(1);
});
