// An import running in the background: follow its progress, reload when it has finished.
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
        if (state.finished || state.stale) { window.location.reload(); return; }
        if (bar) bar.style.width = state.percent + "%";
        if (text) text.textContent = state.done.toLocaleString() + " of " + state.total.toLocaleString() + " rows";
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
