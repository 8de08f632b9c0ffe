// An import a worker runs: follow its progress; reload when it has finished, or when it starts,
// stops or gets a worker (the page then says so).
(function () {
  "use strict";
  var card = document.getElementById("progress-card");
  if (!card || !card.dataset.progressUrl) return;
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  function poll() {
    fetch(card.dataset.progressUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (state) {
        var noWorker = state.no_worker ? "true" : "false";
        if (state.finished || state.status !== card.dataset.status || noWorker !== card.dataset.noWorker) {
          window.location.reload();
          return;
        }
        if (bar) bar.style.width = state.percent + "%";
        if (text) text.textContent = state.done.toLocaleString() + " of " + state.total.toLocaleString() + " rows";
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();

// The mapping page: the "required" tag follows the field each column is read as.
(function () {
  "use strict";
  var table = document.getElementById("mapping-table");
  if (!table) return;
  var required = (table.dataset.requiredKeys || "").split(" ");
  table.addEventListener("change", function (event) {
    var select = event.target;
    if (select.tagName !== "SELECT") return;
    var tag = select.parentNode.querySelector(".required-tag");
    if (tag) tag.classList.toggle("invisible", required.indexOf(select.value) < 0 || !select.value);
  });
})();
