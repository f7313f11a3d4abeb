/* Ace starts its syntax-check worker from a blob: URL by default; the Content-Security-Policy
   allows workers from this origin only, so load the worker file itself. Runs before
   django-ace's widget.js creates the editors (on window load). */
(function () {
  "use strict";
  if (window.ace && window.ace.config) window.ace.config.set("loadWorkerFromBlob", false);
})();
