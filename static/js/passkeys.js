// Passkeys: the browser's half of adding one (account page) and signing in with one (login
// page). The server sends the options as JSON with binary values in base64url; the browser's
// WebAuthn API wants ArrayBuffers, and its answer goes back as JSON in base64url again.
// Each POST carries the CSRF token in the X-CSRFToken header.
(function () {
  "use strict";

  var blocks = document.querySelectorAll(".passkey-ceremony");
  if (!blocks.length) return;

  var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var bytes = atob(base64);
    var buffer = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) buffer[i] = bytes.charCodeAt(i);
    return buffer.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBuffer(item.id), transports: item.transports };
    });
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () {
        return { error: "The page has expired. Reload it and try again." };
      }).then(function (data) {
        if (!response.ok) throw new Error(data.error || "That did not work. Try again.");
        return data;
      });
    });
  }

  // The browser refuses, or the person cancels: say so in words, not the API's.
  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "No passkey was used: the request was cancelled or timed out.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already has a passkey for your account.";
    }
    if (error && error.name === "SecurityError") {
      return "This browser refused passkeys at this address.";
    }
    return (error && error.message) || "That did not work. Try again.";
  }

  function showError(block, message) {
    var box = block.querySelector(".passkey-error");
    box.textContent = message;
    box.hidden = !message;
  }

  function addPasskey(form) {
    var csrf = form.dataset.csrf;
    var name = form.querySelector("input[name='name']");
    var password = form.querySelector("input[name='password']");
    var button = form.querySelector("button[type='submit']");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!name.value.trim()) {
        showError(form, "Give the passkey a name, such as the device it is on.");
        name.focus();
        return;
      }
      button.disabled = true;
      showError(form, "");
      post(form.dataset.optionsUrl, csrf, { password: password.value })
        .then(function (options) {
          options.challenge = toBuffer(options.challenge);
          options.user.id = toBuffer(options.user.id);
          options.excludeCredentials = descriptors(options.excludeCredentials);
          return navigator.credentials.create({ publicKey: options });
        })
        .then(function (credential) {
          var response = credential.response;
          return post(form.dataset.addUrl, csrf, {
            name: name.value,
            credential: {
              id: credential.id,
              rawId: toText(credential.rawId),
              type: credential.type,
              authenticatorAttachment: credential.authenticatorAttachment || undefined,
              clientExtensionResults: credential.getClientExtensionResults(),
              response: {
                clientDataJSON: toText(response.clientDataJSON),
                attestationObject: toText(response.attestationObject),
                transports: response.getTransports ? response.getTransports() : []
              }
            }
          });
        })
        .then(function (done) { window.location.assign(done.redirect); })
        .catch(function (error) {
          showError(form, explain(error));
          password.value = "";
          button.disabled = false;
        });
    });
  }

  function signIn(block) {
    var csrf = block.dataset.csrf;
    var button = block.querySelector("button");
    var remember = document.getElementById("remember");
    var next = new URLSearchParams(window.location.search).get("next");
    button.addEventListener("click", function () {
      button.disabled = true;
      showError(block, "");
      post(block.dataset.optionsUrl, csrf)
        .then(function (options) {
          options.challenge = toBuffer(options.challenge);
          options.allowCredentials = descriptors(options.allowCredentials);
          return navigator.credentials.get({ publicKey: options });
        })
        .then(function (credential) {
          var response = credential.response;
          return post(block.dataset.signInUrl, csrf, {
            remember: !!(remember && remember.checked),
            next: next,
            credential: {
              id: credential.id,
              rawId: toText(credential.rawId),
              type: credential.type,
              authenticatorAttachment: credential.authenticatorAttachment || undefined,
              clientExtensionResults: credential.getClientExtensionResults(),
              response: {
                clientDataJSON: toText(response.clientDataJSON),
                authenticatorData: toText(response.authenticatorData),
                signature: toText(response.signature),
                userHandle: toText(response.userHandle)
              }
            }
          });
        })
        .then(function (done) { window.location.assign(done.redirect); })
        .catch(function (error) {
          showError(block, explain(error));
          button.disabled = false;
        });
    });
  }

  blocks.forEach(function (block) {
    var card = block.parentElement;
    // Passkeys belong to the site's configured address: elsewhere (127.0.0.1 for localhost,
    // say) the browser would refuse them, so the page points there instead.
    if (block.dataset.origin !== window.location.origin) {
      var elsewhere = card.querySelector(".passkey-elsewhere");
      if (elsewhere) elsewhere.hidden = false;
      return;
    }
    if (!supported) {
      var unsupported = card.querySelector(".passkey-unsupported");
      if (unsupported) unsupported.hidden = false;
      return;
    }
    block.hidden = false;
    if (block.id === "passkey-add") addPasskey(block);
    else signIn(block);
  });
})();
