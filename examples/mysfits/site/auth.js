// Sign-in against the user pool: the subset of the Amazon Cognito Identity
// Provider JSON protocol that both Cognito and `stackwright up` speak.
import { config } from "./config.js";

const SESSION_KEY = "mysfits.session";
// Refresh this long before the ID token runs out.
const EXPIRY_MARGIN_MS = 30_000;

/** An error answered by the user pool: `type` is its `__type`. */
export class AuthError extends Error {
  constructor(type, message) {
    super(message || type || "The sign-in service did not answer.");
    this.name = "AuthError";
    this.type = type || "";
  }
}

async function call(operation, body) {
  let response;
  try {
    response = await fetch(config.authUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${operation}`,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new AuthError("NetworkError", "Cannot reach the sign-in service. Check your connection and try again.");
  }
  const text = await response.text();
  let data = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = {};
    }
  }
  if (!response.ok) {
    // Cognito names the type `__type` (sometimes prefixed "namespace#").
    const type = String(data.__type || data.code || "").split("#").pop();
    const message = data.message || data.Message || data.error?.message;
    throw new AuthError(type, message || `The sign-in service answered ${response.status}.`);
  }
  return data;
}

/** The payload of a JWT, or null when it is not one. */
function jwtPayload(token) {
  try {
    const part = token.split(".")[1];
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return JSON.parse(atob(padded));
  } catch {
    return null;
  }
}

function expiresAt(result) {
  const claims = jwtPayload(result.IdToken);
  if (claims && typeof claims.exp === "number") return claims.exp * 1000;
  return Date.now() + (Number(result.ExpiresIn) || 3600) * 1000;
}

export function getSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  notify();
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
  notify();
}

const listeners = new Set();
/** Call `fn` whenever the user signs in or out. */
export function onSessionChange(fn) {
  listeners.add(fn);
}
function notify() {
  for (const fn of listeners) fn(getSession());
}

export function signUp(email, password) {
  return call("SignUp", {
    ClientId: config.clientId,
    Username: email,
    Password: password,
    UserAttributes: [{ Name: "email", Value: email }],
  });
}

export function confirmSignUp(email, code) {
  return call("ConfirmSignUp", {
    ClientId: config.clientId,
    Username: email,
    ConfirmationCode: code,
  });
}

export async function signIn(email, password) {
  const data = await call("InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: config.clientId,
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  const result = data.AuthenticationResult;
  if (!result || !result.IdToken) {
    // A challenge (new password, MFA...) this site does not handle.
    throw new AuthError(data.ChallengeName || "UnsupportedChallenge",
      "This account needs a sign-in step this site does not support.");
  }
  const claims = jwtPayload(result.IdToken) || {};
  saveSession({
    email: claims.email || email,
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    refreshToken: result.RefreshToken,
    expiresAt: expiresAt(result),
  });
  return getSession();
}

/** Trade the refresh token for new tokens; false (and signed out) when it fails. */
export async function refresh() {
  const session = getSession();
  if (!session || !session.refreshToken) return false;
  try {
    const data = await call("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: config.clientId,
      AuthParameters: { REFRESH_TOKEN: session.refreshToken },
    });
    const result = data.AuthenticationResult;
    if (!result || !result.IdToken) throw new AuthError("NoTokens", "no tokens");
    saveSession({
      ...session,
      idToken: result.IdToken,
      accessToken: result.AccessToken || session.accessToken,
      // Cognito does not send a new refresh token on this flow.
      refreshToken: result.RefreshToken || session.refreshToken,
      expiresAt: expiresAt(result),
    });
    return true;
  } catch {
    clearSession();
    return false;
  }
}

/** A valid ID token (refreshed when it ran out), or null when signed out. */
export async function idToken() {
  let session = getSession();
  if (!session) return null;
  if (Date.now() > session.expiresAt - EXPIRY_MARGIN_MS) {
    if (!(await refresh())) return null;
    session = getSession();
  }
  return session.idToken;
}

export async function signOut() {
  const session = getSession();
  clearSession();
  if (session && session.accessToken) {
    try {
      await call("GlobalSignOut", { AccessToken: session.accessToken });
    } catch {
      // Signed out here either way; the tokens run out on their own.
    }
  }
}
