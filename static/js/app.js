// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // After a refused save, put the cursor on the first field that needs fixing.
  var firstInvalid = document.querySelector("form .is-invalid");
  if (firstInvalid) firstInvalid.focus();

  // Forms that need a second thought: <form data-confirm="...">
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // Filters that apply as soon as a choice is made: <select data-autosubmit>
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Disable submit buttons after the first click so a double click cannot submit twice.
  document.querySelectorAll("form[method='post']:not([data-allow-resubmit])").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return;
      form.querySelectorAll("button[type='submit']").forEach(function (b) {
        setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });

  function debounce(fn, ms) {
    var t;
    return function () { var args = arguments; clearTimeout(t); t = setTimeout(function () { fn.apply(null, args); }, ms); };
  }

  // Suggestions for inputs with data-lookup and a datalist.
  function attachLookup(input, onResults) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var lastQuery = "";
    input.addEventListener("input", debounce(function () {
      var q = input.value.trim();
      if (q.length < 2 || q === lastQuery) return;
      lastQuery = q;
      fetch(input.dataset.lookup + "?q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (items) {
          list.innerHTML = "";
          items.forEach(function (item) {
            var opt = document.createElement("option");
            opt.value = item.label;
            opt.dataset.id = item.id;
            list.appendChild(opt);
          });
          if (onResults) onResults(items);
        })
        .catch(function () { /* suggestions are optional */ });
    }, 180));
  }

  document.querySelectorAll("input[data-lookup][list='organization-options']").forEach(function (input) {
    attachLookup(input);
  });

  // Contact picker on the engagement form: choosing a suggestion adds a checked chip.
  var search = document.getElementById("contact-search");
  if (search) {
    var known = {};
    attachLookup(search, function (items) {
      items.forEach(function (item) { known[item.label] = item; });
    });
    function addChosen() {
      var item = known[search.value];
      if (!item) return false;
      var chips = document.getElementById("contact-chips");
      if (!chips.querySelector("input[value='" + item.id + "']")) {
        var label = document.createElement("label");
        label.className = "chip";
        var box = document.createElement("input");
        box.type = "checkbox"; box.name = "contact_ids"; box.value = item.id; box.checked = true;
        label.appendChild(box);
        label.appendChild(document.createTextNode(" " + item.label.split(" <")[0]));
        chips.appendChild(label);
      }
      search.value = "";
      search.classList.remove("is-invalid");
      return true;
    }
    search.addEventListener("change", addChosen);
    // Enter in the picker picks a contact; it must not submit the whole engagement.
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        addChosen();
      }
    });
    // A name typed but never picked would be silently dropped: stop and say so.
    search.form.addEventListener("submit", function (event) {
      if (search.value.trim() && !addChosen()) {
        event.preventDefault();
        event.stopImmediatePropagation();
        search.classList.add("is-invalid");
        var hint = document.getElementById("contact-search-hint");
        if (hint) hint.classList.remove("d-none");
        search.focus();
      }
    }, true);
  }
})();
