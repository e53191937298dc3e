// Mythical Mysfits: browse, filter, view, like and adopt. Hash routes:
//   #/                      every mysfit (#/?filter=GoodEvil&value=Good filters)
//   #/mysfit/ID             one mysfit, with Like and Adopt
//   #/register              create an account
//   #/confirm?email=E       enter the code e-mailed at sign-up
//   #/signin?email=E        sign in
import { listMysfits, getMysfit, likeMysfit, adoptMysfit, recordClick, ApiError } from "./api.js";
import {
  AuthError, clearSession, confirmSignUp, getSession, onSessionChange, signIn, signOut, signUp,
} from "./auth.js";

const FILTERS = {
  GoodEvil: { label: "Good / Evil", values: ["Good", "Neutral", "Evil"] },
  LawChaos: { label: "Law / Chaos", values: ["Lawful", "Neutral", "Chaotic"] },
};
const RETURN_KEY = "mysfits.returnTo";

const main = document.getElementById("main");
const flashBox = document.querySelector("[data-testid=flash]");

// ---------------------------------------------------------------- helpers

/** Build an element: h("p", { class: "x", "data-testid": "y" }, "text", child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An image that turns into a labelled placeholder block when it cannot load. */
function picture(src, alt, className) {
  const box = h("div", { class: `picture ${className}` });
  const placeholder = () => {
    box.replaceChildren(
      h("div", { class: "placeholder", role: "img", "aria-label": alt, "data-testid": "image-placeholder" },
        h("span", { "aria-hidden": "true" }, alt)),
    );
  };
  if (!src) {
    placeholder();
  } else {
    const img = h("img", { src, alt, decoding: "async" });
    img.addEventListener("error", placeholder, { once: true });
    box.append(img);
  }
  return box;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path: path || "/", params: new URLSearchParams(query) };
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

let pendingFlash = null;
/** Show `message` on the next page rendered. */
function flashNext(message) {
  pendingFlash = message;
}
function showFlash() {
  if (pendingFlash) {
    flashBox.textContent = pendingFlash;
    flashBox.hidden = false;
    pendingFlash = null;
  } else {
    flashBox.hidden = true;
    flashBox.textContent = "";
  }
}

function errorText(error) {
  if (error instanceof ApiError || error instanceof AuthError) return error.message;
  return "Something went wrong. Please try again.";
}

function alertBox() {
  return h("p", { class: "alert", role: "alert", "data-testid": "form-error", hidden: true });
}
function showAlert(box, message, ...extra) {
  box.replaceChildren(message, ...extra);
  box.hidden = false;
}

function field(label, { hintText, ...attrs }) {
  const id = `f-${attrs.name}`;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, ...attrs }),
    hintText ? h("p", { class: "hint", id: attrs["aria-describedby"] }, hintText) : null);
}

function passwordProblem(password) {
  if (password.length < 8) return "The password needs at least 8 characters.";
  if (!/[a-z]/.test(password)) return "The password needs a lower-case letter.";
  if (!/[A-Z]/.test(password)) return "The password needs an upper-case letter.";
  if (!/[0-9]/.test(password)) return "The password needs a digit.";
  return null;
}

/** Run `work` with the form's submit button disabled. */
async function busy(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await work();
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

// ---------------------------------------------------------------- header

function renderAccount(session) {
  const who = document.querySelector("[data-testid=signed-in-as]");
  const signedIn = Boolean(session);
  who.hidden = !signedIn;
  who.textContent = signedIn ? `Signed in as ${session.email}` : "";
  for (const id of ["nav-register", "nav-confirm", "nav-signin"]) {
    document.querySelector(`[data-testid=${id}]`).hidden = signedIn;
  }
  document.querySelector("[data-testid=nav-signout]").hidden = !signedIn;
}

document.querySelector("[data-testid=nav-signout]").addEventListener("click", async () => {
  await signOut();
  flashNext("You are signed out.");
  go("#/");
});

onSessionChange(renderAccount);

// ---------------------------------------------------------------- views

async function listView(view, params) {
  let filter = params.get("filter") || "";
  if (!FILTERS[filter]) filter = "";
  let value = params.get("value") || "";
  if (!filter || !FILTERS[filter].values.includes(value)) value = "";

  const filterSelect = h("select", { id: "filter", name: "filter", "data-testid": "filter-field" },
    h("option", { value: "" }, "All mysfits"),
    Object.entries(FILTERS).map(([key, f]) => h("option", { value: key, selected: key === filter }, f.label)));
  const valueSelect = h("select", { id: "filter-value", name: "value", "data-testid": "filter-value" });
  const fillValues = () => {
    const f = FILTERS[filterSelect.value];
    valueSelect.replaceChildren(
      ...(f ? f.values : []).map((v) => h("option", { value: v, selected: v === value }, v)));
    valueSelect.disabled = !f;
  };
  fillValues();
  filterSelect.addEventListener("change", fillValues);

  const form = h("form", { class: "filters", "data-testid": "filter-form", role: "search" },
    h("div", { class: "field" }, h("label", { for: "filter" }, "Filter by"), filterSelect),
    h("div", { class: "field" }, h("label", { for: "filter-value" }, "Value"), valueSelect),
    h("div", { class: "buttons" },
      h("button", { type: "submit", "data-testid": "filter-apply" }, "Apply"),
      h("button", { type: "button", class: "secondary", "data-testid": "filter-clear",
        onclick: () => go("#/") }, "Show all")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const f = filterSelect.value;
    go(f ? `#/?filter=${encodeURIComponent(f)}&value=${encodeURIComponent(valueSelect.value)}` : "#/");
  });

  const status = h("p", { class: "muted", "data-testid": "list-status", "aria-live": "polite" }, "Loading mysfits…");
  const list = h("ul", { class: "cards", "data-testid": "mysfit-list", "aria-busy": "true" });
  view.replaceChildren(
    h("h1", { tabindex: "-1" }, "Meet the mysfits"),
    form, status, list);

  const mysfits = await listMysfits(filter, value);
  list.removeAttribute("aria-busy");
  list.setAttribute("data-loaded", "true");
  const what = filter ? ` (${FILTERS[filter].label}: ${value})` : "";
  status.textContent = mysfits.length === 1 ? `1 mysfit${what}` : `${mysfits.length} mysfits${what}`;
  list.replaceChildren(...mysfits.map((m) => {
    const alt = `${m.name}, a ${m.species}`;
    return h("li", {
      class: "card", "data-testid": "mysfit-card", "data-mysfit-id": m.mysfitId,
      "data-goodevil": m.goodevil, "data-lawchaos": m.lawchaos,
    },
    h("a", { href: `#/mysfit/${encodeURIComponent(m.mysfitId)}`, "data-testid": "mysfit-link" },
      picture(m.thumbImageUri, alt, "thumb"),
      h("h2", { "data-testid": "mysfit-card-name" }, m.name)),
    h("p", { class: "species" }, m.species),
    h("p", { class: "tags" },
      h("span", { class: `tag ${m.goodevil.toLowerCase()}`, "data-testid": "card-goodevil" }, m.goodevil),
      h("span", { class: `tag ${m.lawchaos.toLowerCase()}`, "data-testid": "card-lawchaos" }, m.lawchaos)));
  }));
}

async function detailsView(view, id) {
  view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  let mysfit = await getMysfit(id);

  const likes = h("dd", { "data-testid": "mysfit-likes" });
  const adopted = h("dd", { "data-testid": "mysfit-adopted" });
  const likeButton = h("button", { type: "button", "data-testid": "like-button" }, "♥ Like");
  const adoptButton = h("button", { type: "button", "data-testid": "adopt-button" }, "Adopt");
  const message = h("div", { class: "message", role: "status", "aria-live": "polite", "data-testid": "action-message", hidden: true });

  const show = (m) => {
    mysfit = m;
    likes.textContent = String(m.likes ?? 0);
    adopted.textContent = m.adopted ? "Adopted" : "Available";
    adopted.className = m.adopted ? "state adopted" : "state available";
    adoptButton.disabled = Boolean(m.adopted);
    adoptButton.textContent = m.adopted ? "Adopted" : "Adopt";
  };
  const say = (kind, ...content) => {
    message.className = `message ${kind}`;
    message.replaceChildren(...content);
    message.hidden = false;
  };
  const askToSignIn = (verb, expired = false) => {
    sessionStorage.setItem(RETURN_KEY, location.hash);
    const why = expired ? "Your sign-in is no longer valid. " : "";
    say("info", h("span", { "data-testid": "signin-required" }, `${why}Please sign in to ${verb} ${mysfit.name}. `),
      h("a", { href: "#/signin", "data-testid": "signin-prompt-link" }, "Sign in"),
      " or ",
      h("a", { href: "#/register", "data-testid": "register-prompt-link" }, "create an account"),
      ".");
  };
  const act = (verb, button, call, done) => async () => {
    if (!getSession()) {
      askToSignIn(verb);
      return;
    }
    button.disabled = true;
    try {
      await call(mysfit.mysfitId);
      show(await getMysfit(mysfit.mysfitId));
      say("success", done());
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        // Refreshing did not help (or the session ended): sign in again.
        const hadSession = Boolean(getSession());
        clearSession();
        askToSignIn(verb, hadSession);
      }
      else say("error", errorText(error));
    } finally {
      button.disabled = verb === "adopt" ? Boolean(mysfit.adopted) : false;
    }
  };
  likeButton.addEventListener("click", act("like", likeButton, likeMysfit, () => `You liked ${mysfit.name}.`));
  adoptButton.addEventListener("click",
    act("adopt", adoptButton, adoptMysfit, () => `You adopted ${mysfit.name}. Welcome home!`));
  show(mysfit);
  // Not awaited: a lost click must never hold up or break the page.
  if (getSession()) recordClick(mysfit.mysfitId).catch(() => {});

  const alt = `${mysfit.name}, a ${mysfit.species}`;
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/", "data-testid": "back-link" }, "← All mysfits")),
    h("article", { class: "details", "data-testid": "mysfit-details", "data-mysfit-id": mysfit.mysfitId },
      picture(mysfit.profileImageUri || mysfit.thumbImageUri, alt, "profile"),
      h("div", { class: "info" },
        h("h1", { tabindex: "-1", "data-testid": "mysfit-name" }, mysfit.name),
        h("p", { class: "description", "data-testid": "mysfit-description" }, mysfit.description || ""),
        h("dl", { class: "facts" },
          h("dt", {}, "Species"), h("dd", { "data-testid": "mysfit-species" }, mysfit.species),
          h("dt", {}, "Age"), h("dd", { "data-testid": "mysfit-age" }, mysfit.age ?? "unknown"),
          h("dt", {}, "Good / Evil"), h("dd", { "data-testid": "mysfit-goodevil" }, mysfit.goodevil),
          h("dt", {}, "Law / Chaos"), h("dd", { "data-testid": "mysfit-lawchaos" }, mysfit.lawchaos),
          h("dt", {}, "Likes"), likes,
          h("dt", {}, "Status"), adopted),
        h("div", { class: "buttons" }, likeButton, adoptButton),
        message)));
}

function registerView(view) {
  const error = alertBox();
  const form = h("form", { class: "panel", "data-testid": "register-form", novalidate: true },
    h("h1", { tabindex: "-1" }, "Create an account"),
    error,
    field("E-mail", { name: "email", type: "email", autocomplete: "username", required: true, "data-testid": "register-email" }),
    field("Password", {
      name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8,
      "data-testid": "register-password", "aria-describedby": "password-hint",
      hintText: "At least 8 characters, with a lower-case letter, an upper-case letter and a digit.",
    }),
    h("div", { class: "buttons" }, h("button", { type: "submit", "data-testid": "register-submit" }, "Register")),
    h("p", { class: "muted" }, "Already have a code? ", h("a", { href: "#/confirm" }, "Confirm your account"),
      ". Already confirmed? ", h("a", { href: "#/signin" }, "Sign in"), "."));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    if (!email || !form.elements.email.checkValidity()) return showAlert(error, "Enter a valid e-mail address.");
    const problem = passwordProblem(password);
    if (problem) return showAlert(error, problem);
    busy(form, async () => {
      try {
        await signUp(email, password);
        flashNext(`We sent a confirmation code to ${email}. Enter it below.`);
        go(`#/confirm?email=${encodeURIComponent(email)}`);
      } catch (e) {
        showAlert(error, errorText(e));
      }
    });
  });
  view.replaceChildren(form);
}

function confirmView(view, params) {
  const error = alertBox();
  const form = h("form", { class: "panel", "data-testid": "confirm-form", novalidate: true },
    h("h1", { tabindex: "-1" }, "Confirm your account"),
    h("p", { class: "muted" }, "Enter the code we e-mailed you when you registered."),
    error,
    field("E-mail", {
      name: "email", type: "email", autocomplete: "username", required: true,
      value: params.get("email") || "", "data-testid": "confirm-email",
    }),
    field("Confirmation code", {
      name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", required: true,
      "data-testid": "confirm-code",
    }),
    h("div", { class: "buttons" }, h("button", { type: "submit", "data-testid": "confirm-submit" }, "Confirm")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    const code = form.elements.code.value.trim();
    if (!email || !code) return showAlert(error, "Enter your e-mail address and the code.");
    busy(form, async () => {
      try {
        await confirmSignUp(email, code);
        flashNext("Your account is confirmed. You can sign in now.");
        go(`#/signin?email=${encodeURIComponent(email)}`);
      } catch (e) {
        showAlert(error, errorText(e));
      }
    });
  });
  view.replaceChildren(form);
}

function signInView(view, params) {
  const error = alertBox();
  const form = h("form", { class: "panel", "data-testid": "signin-form", novalidate: true },
    h("h1", { tabindex: "-1" }, "Sign in"),
    error,
    field("E-mail", {
      name: "email", type: "email", autocomplete: "username", required: true,
      value: params.get("email") || "", "data-testid": "signin-email",
    }),
    field("Password", {
      name: "password", type: "password", autocomplete: "current-password", required: true,
      "data-testid": "signin-password",
    }),
    h("div", { class: "buttons" }, h("button", { type: "submit", "data-testid": "signin-submit" }, "Sign in")),
    h("p", { class: "muted" }, "No account yet? ", h("a", { href: "#/register" }, "Register"), "."));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    if (!email || !password) return showAlert(error, "Enter your e-mail address and password.");
    busy(form, async () => {
      try {
        const session = await signIn(email, password);
        const back = sessionStorage.getItem(RETURN_KEY);
        sessionStorage.removeItem(RETURN_KEY);
        flashNext(`Welcome, ${session.email}!`);
        go(back && back.startsWith("#/mysfit/") ? back : "#/");
      } catch (e) {
        if (e instanceof AuthError && e.type === "UserNotConfirmedException") {
          showAlert(error, `${e.message} `,
            h("a", { href: `#/confirm?email=${encodeURIComponent(email)}`, "data-testid": "confirm-link" },
              "Confirm your account"), ".");
        } else {
          showAlert(error, errorText(e));
        }
      }
    });
  });
  view.replaceChildren(form);
}

function notFoundView(view) {
  view.replaceChildren(
    h("h1", { tabindex: "-1" }, "Page not found"),
    h("p", {}, h("a", { href: "#/" }, "See all mysfits")));
}

// ---------------------------------------------------------------- router

let generation = 0;
let firstRender = true;

async function route() {
  const mine = ++generation;
  const { path, params } = parseHash();
  // Render into a detached container so a slow, older page never
  // replaces a newer one.
  const view = document.createElement("div");
  view.className = "view";
  showFlash();
  main.setAttribute("aria-busy", "true");
  try {
    const match = path.match(/^\/mysfit\/([^/]+)$/);
    if (path === "/") {
      main.replaceChildren(view);
      await listView(view, params);
    } else if (match) {
      main.replaceChildren(view);
      await detailsView(view, decodeURIComponent(match[1]));
    } else if (path === "/register") {
      main.replaceChildren(view);
      registerView(view);
    } else if (path === "/confirm") {
      main.replaceChildren(view);
      confirmView(view, params);
    } else if (path === "/signin") {
      main.replaceChildren(view);
      if (getSession()) {
        view.replaceChildren(h("h1", { tabindex: "-1" }, "You are signed in"),
          h("p", {}, h("a", { href: "#/" }, "Back to the mysfits")));
      } else {
        signInView(view, params);
      }
    } else {
      main.replaceChildren(view);
      notFoundView(view);
    }
  } catch (error) {
    if (mine !== generation) return;
    const notFound = error instanceof ApiError && error.status === 404;
    view.replaceChildren(
      h("h1", { tabindex: "-1" }, notFound ? "Not found" : "Something went wrong"),
      h("p", { class: "alert", role: "alert", "data-testid": "page-error" }, errorText(error)),
      h("p", {}, h("a", { href: "#/" }, "See all mysfits")));
  } finally {
    if (mine === generation) {
      main.removeAttribute("aria-busy");
      if (!firstRender) view.querySelector("h1")?.focus();
      firstRender = false;
    }
  }
}

window.addEventListener("hashchange", route);
renderAccount(getSession());
route();
