// The segment builder's live count: whenever a criterion changes, ask the server for the
// count and sample (the same "Update count" request the button makes) and show them.
(function () {
  "use strict";
  var form = document.querySelector("form[data-live-count]");
  var panel = document.getElementById("segment-preview");
  if (!form || !panel || !window.fetch) return;
  var timer = null;
  var latest = 0;

  function refresh() {
    var ticket = ++latest;
    // (form.action would be the buttons named "action", so the address is read as an attribute)
    var data = new FormData(form);
    data.set("action", "preview");
    panel.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("action") || window.location.href, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (ticket !== latest) return;  // a newer request is on its way
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("segment-preview");
        if (fresh) { panel.innerHTML = fresh.innerHTML; }
      })
      .finally(function () { panel.removeAttribute("aria-busy"); });
  }

  form.querySelectorAll("[data-criterion]").forEach(function (field) {
    field.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
  });
})();
