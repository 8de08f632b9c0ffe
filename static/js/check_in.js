// The check-in page: filter as you type, check people in without reloading the page.
(function () {
  "use strict";
  var search = document.getElementById("check-in-search");
  var rows = Array.prototype.slice.call(document.querySelectorAll(".check-in-row"));
  var none = document.getElementById("check-in-none");
  var counter = document.getElementById("attended-count");

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  rows.forEach(function (row) { row.dataset.folded = fold(row.dataset.search || ""); });

  function filter() {
    var words = fold(search.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var match = words.every(function (w) { return row.dataset.folded.indexOf(w) !== -1; });
      row.classList.toggle("d-none", !match);
      if (match) shown += 1;
    });
    if (none) none.classList.toggle("d-none", shown > 0 || rows.length === 0);
  }
  if (search) {
    search.addEventListener("input", filter);
    if (search.value) filter();  // typed before this script ran
  }

  // Shows the status the server answered with (an undo restores what it was before).
  function render(row, status, label) {
    var here = status === "attended";
    var form = row.querySelector(".check-in-form");
    var button = form.querySelector("button");
    form.querySelector("input[name='undo']").value = here ? "1" : "0";
    row.classList.toggle("is-here", here);
    button.textContent = here ? "Undo" : "Check in";
    button.className = "btn check-in-button " + (here ? "btn-outline-secondary" : "btn-success");
    var badge = row.querySelector(".status-slot .badge");
    badge.className = "badge participation participation-" + status;
    badge.textContent = label;
    counter.textContent = document.querySelectorAll(".check-in-row.is-here").length;
  }

  rows.forEach(function (row) {
    var form = row.querySelector(".check-in-form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (result) {
          render(row, result.data.status, result.data.label);
          if (!result.ok && result.data.message) window.alert(result.data.message);
          if (search) { search.value = ""; filter(); search.focus(); }
        })
        .catch(function () { form.submit(); })  // fall back to a plain post
        .then(function () { button.disabled = false; });
    });
  });
})();
