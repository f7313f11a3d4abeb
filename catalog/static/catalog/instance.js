/* Instance pages: Settings | Errors | Event delivery | Deploys tabs, and the webhook URL copy button. */
(function () {
  "use strict";
  var tabs = document.querySelectorAll("#fn-instance-tabs .fn-tab");
  function show(name) {
    tabs.forEach(function (t) { t.classList.toggle("active", t.dataset.tab === name); });
    document.querySelectorAll("[data-pane]").forEach(function (p) { p.hidden = p.dataset.pane !== name; });
  }
  tabs.forEach(function (t) { t.addEventListener("click", function () { show(t.dataset.tab); }); });
  var named = { "#errors": "errors", "#delivery": "delivery", "#deploys": "deploys", "#canary": "canary" };
  if (tabs.length) show(named[location.hash] || "settings");
  document.querySelectorAll(".fn-copy-btn").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.querySelector(button.dataset.copy).textContent;
      if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
      button.textContent = "Copied";
    });
  });
})();
