// The API reference page: Swagger UI (vendored) reading the API's OpenAPI document. A file,
// not an inline script: the Content-Security-Policy allows only the app's own scripts.
(function () {
  "use strict";
  var holder = document.getElementById("api-reference");
  if (!holder || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: holder.getAttribute("data-spec-url"),
    domNode: holder,
    deepLinking: true,
    tryItOutEnabled: false,
    // No calls to the public validator service: nothing leaves the page but the API's own.
    validatorUrl: null,
    persistAuthorization: false,
  });
})();
