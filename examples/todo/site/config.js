// Filled by Stackwright when the site is served (`stackwright up`) or
// uploaded (`stackwright deploy`): locally the API is on the same origin ("").
export const config = {
  apiUrl: "{{API_URL}}".replace(/\/+$/, ""),
  region: "{{REGION}}",
};
