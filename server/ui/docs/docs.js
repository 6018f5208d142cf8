// Renders /openapi.json with the vendored Swagger UI. "Try it out" sends
// requests to this server; the key given under "Authorize" stays in the page.
window.ui = SwaggerUIBundle({
  url: "../openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  validatorUrl: null,
});
