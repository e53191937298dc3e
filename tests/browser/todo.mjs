// The todo site: list tasks, add one, delete it.
//   BASE_URL=http://127.0.0.1:8080 SCREENSHOTS=/tmp/shots node tests/browser/todo.mjs
import { baseUrl, expectEqual, run, waitForText, waitUntil } from "./lib.mjs";

const base = baseUrl();
const api = (process.env.API_URL || base).replace(/\/+$/, "");
const title = `Browser test ${Date.now()} ${Math.random().toString(36).slice(2, 7)}`;

async function apiTasks() {
  const response = await fetch(`${api}/api/task/`);
  expectEqual(response.status, 200, "GET /api/task/ status");
  return response.json();
}

await run("todo", async ({ page, step }) => {
  const list = page.getByTestId("task-list");
  const rows = list.getByTestId("task");
  const ours = rows.filter({ has: page.getByTestId("task-item-title").getByText(title, { exact: true }) });
  const loaded = () => page.locator("[data-testid=task-list][data-loaded=true]").waitFor();

  await step("open the site and list the tasks", async () => {
    await page.goto(`${base}/`);
    await loaded();
    const expected = (await apiTasks()).length;
    await waitUntil(() => rows.count(), (n) => n === expected, `${expected} tasks as the API lists`);
    await waitForText(page.getByTestId("task-count"), (t) => t === `(${expected})`, `count "(${expected})"`);
  });

  await step("add a task with a unique title: it appears", async () => {
    await page.getByLabel("New task").fill(title);
    await page.getByLabel("Priority").fill("2");
    await page.getByTestId("task-add").click();
    await waitUntil(() => ours.count(), (n) => n === 1, `one task titled "${title}"`);
    await waitForText(ours.locator(".meta"), (t) => t.includes("priority 2"), `"priority 2" in the task`);
    const stored = (await apiTasks()).filter((t) => t.title === title);
    expectEqual(stored.length, 1, "tasks with that title in the API");
    expectEqual(stored[0].priority, 2, "its priority in the API");
    expectEqual(await page.getByLabel("New task").inputValue(), "", "the title field after adding");
  });

  await step("the added task is still listed after a reload", async () => {
    await page.reload();
    await loaded();
    await waitUntil(() => ours.count(), (n) => n === 1, `one task titled "${title}" after reload`);
  });

  await step("delete it: it is gone", async () => {
    await ours.getByTestId("task-delete").click();
    await waitUntil(() => ours.count(), (n) => n === 0, `no task titled "${title}"`);
    const stored = (await apiTasks()).filter((t) => t.title === title);
    expectEqual(stored.length, 0, "tasks with that title in the API after delete");
  });

  await step("after a reload it is still gone", async () => {
    await page.reload();
    await loaded();
    const expected = (await apiTasks()).length;
    await waitUntil(() => rows.count(), (n) => n === expected, `${expected} tasks as the API lists`);
    expectEqual(await ours.count(), 0, `tasks titled "${title}" after reload`);
  });
});
