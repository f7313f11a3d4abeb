'use strict';
// Entry points of the library bundles that define one global each (see lib/modules.js for
// the identifiers that make the host load them). Each entry is the source of one bundle.
module.exports = {
  https: `globalThis.https = __sbNode.require('https');`,
  zlib: `globalThis.zlib = __sbNode.require('zlib');`,
  formdata: `globalThis.FormData = require('form-data');`,
  oauth: `globalThis.OAuth = require('oauth'); globalThis.OAuth2 = globalThis.OAuth.OAuth2;`,
  util: `globalThis.util = __sbNode.require('util');`,
  jsonwebtoken: `globalThis.jsonwebtoken = require('jsonwebtoken');`,
  libphonenumber: `globalThis.libphonenumberjslib = { libphonenumberjs: require('libphonenumber-js') };`,
  fetchretry: `globalThis.fetchretrylib = { fetchretry: require('fetch-retry') };`,
  winston: `globalThis.winstonlib = { winston: require('winston') };`,
  stripe: `globalThis.stripe = require('stripe');`,
  twilio: `globalThis.twilio = require('twilio');`,
  sendgrid: `globalThis.sendgrid = { client: require('@sendgrid/client'), mail: require('@sendgrid/mail') };`,
  mailchimp: `globalThis.mailchimplib = { mailchimp: require('@mailchimp/mailchimp_marketing') };`,
  mailjet: `globalThis.nodemailjet = { nodemailjet: require('./lib/bundles/mailjet.js') };`,
  hubspot: `globalThis.hubspotlib = { hubspot: require('@hubspot/api-client') };`,
  jsforce: `globalThis.jsforce = require('jsforce');`,
  'google-storage': `__sbNode.provide('@google-cloud/storage', require('@google-cloud/storage'));`,
  'google-bigquery': `__sbNode.provide('@google-cloud/bigquery', require('@google-cloud/bigquery'));`,
  google: `require('./lib/bundles/google.js');`,
};
