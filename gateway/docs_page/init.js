// Renders /openapi.json with Swagger UI. A file, not an inline script: the page's
// Content-Security-Policy allows scripts from this origin only (gateway/docs.py).
/* global SwaggerUIBundle */
window.addEventListener('load', () => {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null, // no call to a public validator: the page works offline
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    persistAuthorization: false, // a bearer token typed here is forgotten with the tab
    displayRequestDuration: true,
    showExtensions: true,
  });
});
