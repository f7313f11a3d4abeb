'use strict';
// The same function code under plain Node: Segment's global names bound to the real npm
// packages (as Segment's runtime does), so a test can compare the requests a library sends
// from the sandbox with the ones it sends from Node itself.
const vm = require('vm');

function segmentGlobals() {
  return {
    AWS: require('aws-sdk'),
    stripe: require('stripe'),
    twilio: require('twilio'),
    sendgrid: { client: require('@sendgrid/client'), mail: require('@sendgrid/mail') },
    mailchimplib: { mailchimp: require('@mailchimp/mailchimp_marketing') },
    nodemailjet: { nodemailjet: require('node-mailjet') },
    hubspotlib: { hubspot: require('@hubspot/api-client') },
    jsforce: require('jsforce'),
    google: { cloud: { storage: require('@google-cloud/storage'), bigquery: require('@google-cloud/bigquery') } },
    jsonwebtoken: require('jsonwebtoken'),
    OAuth: require('oauth'),
    FormData: require('form-data'),
    libphonenumberjslib: { libphonenumberjs: require('libphonenumber-js') },
    winstonlib: { winston: require('winston') },
    zlib: require('zlib'),
    https: require('https'),
    crypto: require('crypto'),
    Buffer,
    URL,
    URLSearchParams,
    console,
    setTimeout,
    clearTimeout,
  };
}

// Runs onTrack(event, settings) of `code` in a fresh context; resolves with its result.
async function runPlain(code, event, settings) {
  const ctx = vm.createContext(Object.assign(segmentGlobals(), { module: undefined }));
  vm.runInContext(code, ctx);
  const onTrack = vm.runInContext('onTrack', ctx);
  return onTrack(event || { type: 'track', event: 'E' }, settings || {});
}

module.exports = { runPlain };
