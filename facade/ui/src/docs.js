// Swagger UI over the live /openapi.json of this facade. "Authorize" keeps the API key or
// JWT in Swagger UI's memory only (persistAuthorization off): it is sent in the header the
// document names (X-API-Key or Authorization), never in a URL, and is gone on reload.
'use strict';
window.addEventListener('DOMContentLoaded', () => {
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    persistAuthorization: false,
    tryItOutEnabled: false,
    // No call to the public validator service: nothing leaves this origin.
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
