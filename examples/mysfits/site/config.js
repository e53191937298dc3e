// Filled by Stackwright when the site is served (`stackwright up`) or
// uploaded (`stackwright deploy`). Locally the API is on the same origin
// ("") and the user pool answers at /auth/; on AWS the API is on its own
// origin and AUTH_URL is the Cognito endpoint of the region.
export const config = {
  apiUrl: "{{API_URL}}".replace(/\/+$/, ""),
  authUrl: "{{AUTH_URL}}",
  region: "{{REGION}}",
  userPoolId: "{{USER_POOL_ID}}",
  clientId: "{{CLIENT_ID}}",
};
