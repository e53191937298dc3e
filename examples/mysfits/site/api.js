// The mysfits API. Errors have the form {"error":{"code","message"}}.
import { config } from "./config.js";
import { idToken, refresh } from "./auth.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, { auth = false, body } = {}) {
  const send = async () => {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) {
      const token = await idToken();
      if (!token) throw new ApiError(401, "unauthorized", "Please sign in first.");
      headers.Authorization = `Bearer ${token}`;
    }
    try {
      const init = { method, headers };
      if (body !== undefined) init.body = JSON.stringify(body);
      return await fetch(`${config.apiUrl}${path}`, init);
    } catch {
      throw new ApiError(0, "network", "Cannot reach the mysfits service. Check your connection and try again.");
    }
  };
  let response = await send();
  // The token may have been revoked or run out early: refresh once.
  if (auth && response.status === 401 && (await refresh())) {
    response = await send();
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "http_" + response.status,
      error.message || `The mysfits service answered ${response.status}.`);
  }
  return data;
}

export async function listMysfits(filter, value) {
  const query = filter && value
    ? `?filter=${encodeURIComponent(filter)}&value=${encodeURIComponent(value)}`
    : "";
  const data = await request("GET", `/mysfits${query}`);
  return data.mysfits || [];
}

export function getMysfit(id) {
  return request("GET", `/mysfits/${encodeURIComponent(id)}`);
}

export function likeMysfit(id) {
  return request("POST", `/mysfits/${encodeURIComponent(id)}/like`, { auth: true });
}

export function adoptMysfit(id) {
  return request("POST", `/mysfits/${encodeURIComponent(id)}/adopt`, { auth: true });
}

// The clicks topic (the workshop's user-behaviour stream): which profiles
// signed-in users open. Stored once per subscription, applied later.
export function recordClick(id) {
  return request("POST", "/topics/clicks", { auth: true, body: { mysfitId: id } });
}
