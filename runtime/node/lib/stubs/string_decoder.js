// Minimal StringDecoder (utf8 only) for sax's optional SAXStream.
function StringDecoder() {}
StringDecoder.prototype.write = function (b) { return typeof b === 'string' ? b : String(b); };
StringDecoder.prototype.end = function () { return ''; };
module.exports = { StringDecoder };
