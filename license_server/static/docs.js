// Starts Swagger UI on the server's own OpenAPI document (no inline script: the
// page's Content-Security-Policy allows scripts from this origin only).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.getAttribute("data-spec"),
    domNode: element,
    deepLinking: true,
    // keep the tags in the document's order: the public endpoints first
    tagsSorter: undefined,
    operationsSorter: undefined,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    defaultModelExpandDepth: 2,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
