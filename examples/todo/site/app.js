// Tasks: list, add and delete against the todo API
// (GET /api/task/, POST /api/task/, DELETE /api/task/{id}/).
import { config } from "./config.js";

const form = document.querySelector("[data-testid=task-form]");
const list = document.querySelector("[data-testid=task-list]");
const status = document.querySelector("[data-testid=status]");
const count = document.querySelector("[data-testid=task-count]");
const errorBox = document.querySelector("[data-testid=error]");
const titleInput = form.elements.namedItem("title");
const priorityInput = form.elements.namedItem("priority");

async function api(method, path, body) {
  let response;
  try {
    response = await fetch(`${config.apiUrl}${path}`, {
      method,
      headers: body === undefined ? { Accept: "application/json" }
        : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Error("Cannot reach the task service. Check your connection and try again.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new Error(data?.error?.message || `The task service answered ${response.status}.`);
  }
  return data;
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function taskItem(task) {
  const li = document.createElement("li");
  li.className = task.complete ? "task complete" : "task";
  li.dataset.testid = "task";
  li.dataset.taskId = String(task.id);

  const title = document.createElement("span");
  title.className = "title";
  title.dataset.testid = "task-item-title";
  title.textContent = task.title;

  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `#${task.id} · priority ${task.priority}${task.complete ? " · done" : ""}`;

  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "delete";
  remove.dataset.testid = "task-delete";
  remove.textContent = "Delete";
  remove.setAttribute("aria-label", `Delete task “${task.title}”`);
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    showError("");
    try {
      await api("DELETE", `/api/task/${encodeURIComponent(task.id)}/`);
      li.remove();
      updateCount();
      status.textContent = `Deleted “${task.title}”.`;
    } catch (error) {
      // Gone already (404) is what the user wanted: refresh the list.
      showError(error.message);
      remove.disabled = false;
      await load();
    }
  });

  const text = document.createElement("div");
  text.className = "text";
  text.append(title, meta);
  li.append(text, remove);
  return li;
}

function updateCount() {
  const n = list.children.length;
  count.textContent = `(${n})`;
  if (n === 0) status.textContent = "No tasks yet: add one above.";
}

async function load() {
  list.setAttribute("aria-busy", "true");
  try {
    const tasks = await api("GET", "/api/task/");
    list.replaceChildren(...tasks.map(taskItem));
    status.textContent = tasks.length ? "" : "No tasks yet: add one above.";
    updateCount();
    list.dataset.loaded = "true";
  } catch (error) {
    status.textContent = "";
    showError(error.message);
  } finally {
    list.removeAttribute("aria-busy");
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const title = titleInput.value.trim();
  const priority = Number.parseInt(priorityInput.value || "0", 10);
  if (!title) {
    showError("Enter a title for the task.");
    titleInput.focus();
    return;
  }
  if (!Number.isInteger(priority) || priority < 0) {
    showError("The priority is a whole number, 0 or more.");
    priorityInput.focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  showError("");
  try {
    const task = await api("POST", "/api/task/", { title, priority });
    list.append(taskItem(task));
    updateCount();
    status.textContent = `Added “${task.title}”.`;
    titleInput.value = "";
    titleInput.focus();
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
});

load();
