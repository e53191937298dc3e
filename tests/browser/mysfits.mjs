// The mysfits site: browse, filter, Like/Adopt signed out (asks to sign
// in), register, confirm with the code from the outbox, sign in, Like and
// Adopt, sign out.
//   BASE_URL=http://127.0.0.1:8080 OUTBOX=examples/mysfits/.stackwright/outbox.jsonl \
//   SCREENSHOTS=/tmp/shots node tests/browser/mysfits.mjs
// OUTBOX defaults to examples/mysfits/.stackwright/outbox.jsonl, SCREENSHOTS
// to tests/browser/screenshots.
// SITE_PATH (default /app/) is where the site is served; API_URL (default
// BASE_URL) where the API answers.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { baseUrl, env, expectEqual, HERE, run, TIMEOUT_MS, visibleText, waitForText, waitUntil } from "./lib.mjs";

const base = baseUrl();
const siteUrl = base + env("SITE_PATH", "/app/");
const api = env("API_URL", base).replace(/\/+$/, "");
// `stackwright up examples/mysfits` appends each e-mail it "sends" here.
const outbox = env("OUTBOX", path.join(HERE, "../../examples/mysfits/.stackwright/outbox.jsonl"));
const stamp = `${Date.now()}${Math.random().toString(36).slice(2, 6)}`;
const email = `t${stamp}@example.com`;
// Upper, lower, digit and a symbol: passes the local policy and Cognito's default one.
const password = `Mysfit-${stamp.slice(-6)}x9Q!`;

async function apiGet(path) {
  const response = await fetch(`${api}${path}`);
  expectEqual(response.status, 200, `GET ${path} status`);
  return response.json();
}

/** The newest confirmation code e-mailed to `to`, polling the outbox up to 10 s. */
async function codeFor(to) {
  return waitUntil(async () => {
    let text;
    try {
      text = await readFile(outbox, "utf8");
    } catch (error) {
      if (error.code === "ENOENT") return null;
      throw error;
    }
    const mails = text.split("\n").filter((line) => line.trim()).flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return []; // a line being written
      }
    });
    const ours = mails.filter((m) => String(m.to).toLowerCase() === to.toLowerCase() && m.code);
    return ours.length ? String(ours[ours.length - 1].code) : null;
  }, (code) => Boolean(code), `a confirmation code for ${to} in ${outbox}`, 10_000);
}

await run("mysfits", async ({ page, step }) => {
  const cards = page.getByTestId("mysfit-card");
  const likes = page.getByTestId("mysfit-likes");
  const adopted = page.getByTestId("mysfit-adopted");
  const message = page.getByTestId("action-message");
  const flash = page.getByTestId("flash");
  const formError = page.getByTestId("form-error");
  const listLoaded = () => page.locator("[data-testid=mysfit-list][data-loaded=true]").waitFor();
  const posts = [];
  page.on("request", (request) => {
    if (request.method() === "POST" && /\/mysfits\/[^/]+\/(like|adopt)$/.test(new URL(request.url()).pathname)) {
      posts.push(request.url());
    }
  });
  const authFlows = []; // InitiateAuth flows the page asked for
  page.on("request", (request) => {
    if ((request.headers()["x-amz-target"] || "").endsWith(".InitiateAuth")) {
      try {
        authFlows.push(JSON.parse(request.postData() || "{}").AuthFlow);
      } catch {
        authFlows.push("?");
      }
    }
  });
  let target; // the mysfit the test likes and adopts: one not adopted yet
  const openTarget = async () => {
    await page.goto(`${siteUrl}#/mysfit/${target.mysfitId}`);
    await waitForText(page.getByTestId("mysfit-name"), (t) => t === target.name, `the details of ${target.name}`);
  };
  const shownLikes = async () => {
    const text = await waitForText(likes, (t) => /^\d+$/.test(t), "a likes count");
    return Number(text);
  };

  await step("open the site: every mysfit is a card", async () => {
    const all = (await apiGet("/mysfits")).mysfits;
    await page.goto(siteUrl);
    await listLoaded();
    expectEqual(await cards.count(), all.length, "cards shown");
    const names = await page.getByTestId("mysfit-card-name").allInnerTexts();
    expectEqual(JSON.stringify(names), JSON.stringify(all.map((m) => m.name)), "card names, in API order");
    for (const m of all) {
      const full = await apiGet(`/mysfits/${m.mysfitId}`);
      if (!full.adopted) {
        target = full;
        break;
      }
    }
    if (!target) throw new Error("expected a mysfit not adopted yet, saw every one adopted: use a fresh database");
  });

  await step("filter Good / Evil = Good: only good ones", async () => {
    const good = (await apiGet("/mysfits?filter=GoodEvil&value=Good")).mysfits;
    await page.getByLabel("Filter by").selectOption("GoodEvil");
    await page.getByLabel("Value").selectOption("Good");
    await page.getByTestId("filter-apply").click();
    await page.waitForURL(/filter=GoodEvil&value=Good/);
    await listLoaded();
    await waitUntil(() => cards.count(), (n) => n === good.length, `${good.length} cards (as the API filters)`);
    const sides = await cards.evaluateAll((els) => els.map((el) => el.dataset.goodevil));
    expectEqual(sides.filter((s) => s !== "Good").length, 0, `cards not Good among ${JSON.stringify(sides)}`);
    const tags = await page.getByTestId("card-goodevil").allInnerTexts();
    expectEqual(tags.every((t) => t === "Good"), true, `every card's Good/Evil tag Good (${tags.join(", ")})`);
    await waitForText(page.getByTestId("list-status"), (t) => t.includes("Good"), "the status naming the filter");
  });

  await step("filter Law / Chaos = Chaotic, then show all", async () => {
    const chaotic = (await apiGet("/mysfits?filter=LawChaos&value=Chaotic")).mysfits;
    await page.getByLabel("Filter by").selectOption("LawChaos");
    await page.getByLabel("Value").selectOption("Chaotic");
    await page.getByTestId("filter-apply").click();
    await page.waitForURL(/filter=LawChaos&value=Chaotic/);
    await listLoaded();
    await waitUntil(() => cards.count(), (n) => n === chaotic.length, `${chaotic.length} Chaotic cards`);
    const sides = await cards.evaluateAll((els) => els.map((el) => el.dataset.lawchaos));
    expectEqual(sides.every((s) => s === "Chaotic"), true, `every card Chaotic (${sides.join(", ")})`);
    const all = (await apiGet("/mysfits")).mysfits;
    await page.getByTestId("filter-clear").click();
    await waitUntil(() => cards.count(), (n) => n === all.length, `${all.length} cards after "Show all"`);
  });

  await step("open a mysfit's details", async () => {
    await page.locator(`[data-testid=mysfit-card][data-mysfit-id="${target.mysfitId}"] [data-testid=mysfit-link]`).click();
    await waitForText(page.getByTestId("mysfit-name"), (t) => t === target.name, `the details of ${target.name}`);
    expectEqual(await shownLikes(), target.likes, "likes shown");
    expectEqual(await visibleText(adopted), "Available", "adoption state shown");
    expectEqual(await visibleText(page.getByTestId("mysfit-species")), target.species, "species shown");
    // The seed's image URLs do not load here: a labelled placeholder stands in.
    await waitUntil(
      () => page.evaluate(() => {
        const img = document.querySelector(".details img");
        return Boolean(document.querySelector(".details [data-testid=image-placeholder]"))
          || Boolean(img && img.complete && img.naturalWidth > 0);
      }),
      (ok) => ok, "the profile image or its placeholder");
  });

  await step("signed out, Like asks to sign in and changes nothing", async () => {
    const before = await shownLikes();
    await page.getByTestId("like-button").click();
    await waitForText(message, (t) => t.includes("Please sign in to like"), `"Please sign in to like ..."`);
    await page.getByTestId("signin-prompt-link").waitFor();
    expectEqual(await shownLikes(), before, "likes shown after a signed-out Like");
    expectEqual((await apiGet(`/mysfits/${target.mysfitId}`)).likes, before, "likes in the API");
    expectEqual(posts.length, 0, "like/adopt requests sent while signed out");
  });

  await step("signed out, Adopt asks to sign in too", async () => {
    await page.getByTestId("adopt-button").click();
    await waitForText(message, (t) => t.includes("Please sign in to adopt"), `"Please sign in to adopt ..."`);
    expectEqual(await visibleText(adopted), "Available", "adoption state after a signed-out Adopt");
    expectEqual(posts.length, 0, "like/adopt requests sent while signed out");
  });

  await step("the sign-in prompt opens the sign-in view", async () => {
    await page.getByTestId("signin-prompt-link").click();
    await page.getByTestId("signin-form").waitFor();
    await page.waitForURL(/#\/signin/);
  });

  await step("register: a weak password is refused", async () => {
    await page.getByTestId("nav-register").click();
    await page.getByTestId("register-form").waitFor();
    await page.getByLabel("E-mail").fill(email);
    await page.getByLabel("Password").fill("short");
    await page.getByTestId("register-submit").click();
    await waitForText(formError, (t) => t.includes("8 characters"), `an error about "8 characters"`);
  });

  await step(`register ${email}`, async () => {
    await page.getByLabel("Password").fill(password);
    await page.getByTestId("register-submit").click();
    await page.getByTestId("confirm-form").waitFor({ timeout: TIMEOUT_MS }).catch(async () => {
      throw new Error(`expected the confirm view, saw ${JSON.stringify(await visibleText(formError) ?? page.url())}`);
    });
    expectEqual(await page.getByTestId("confirm-email").inputValue(), email, "e-mail filled in the confirm view");
    await waitForText(flash, (t) => t.includes(email), "a notice naming the e-mail the code went to");
  });

  await step("confirm with the code from the outbox", async () => {
    const code = await codeFor(email);
    console.log(`   code for ${email}: ${code}`);
    await page.getByLabel("Confirmation code").fill(code);
    await page.getByTestId("confirm-submit").click();
    await page.getByTestId("signin-form").waitFor({ timeout: TIMEOUT_MS }).catch(async () => {
      throw new Error(`expected the sign-in view, saw ${JSON.stringify(await visibleText(formError) ?? page.url())}`);
    });
    await waitForText(flash, (t) => t.includes("confirmed"), `a notice "... confirmed ..."`);
    expectEqual(await page.getByTestId("signin-email").inputValue(), email, "e-mail filled in the sign-in view");
  });

  await step("a wrong password is refused", async () => {
    await page.getByLabel("Password").fill(`${password}-wrong`);
    await page.getByTestId("signin-submit").click();
    await waitForText(formError, (t) => t.length > 0, "an error message");
    expectEqual(await page.getByTestId("signed-in-as").isVisible(), false, "signed in after a wrong password");
  });

  await step("sign in", async () => {
    await page.getByLabel("Password").fill(password);
    await page.getByTestId("signin-submit").click();
    await waitForText(page.getByTestId("signed-in-as"), (t) => t.includes(email), `"Signed in as ${email}"`)
      .catch(async (error) => {
        const shown = await visibleText(formError);
        throw shown ? new Error(`expected to be signed in, saw the error ${JSON.stringify(shown)}`) : error;
      });
    expectEqual(await page.getByTestId("nav-signin").isVisible(), false, "the Sign in link while signed in");
    // The sign-in prompt came from the details view: it returns there.
    await waitForText(page.getByTestId("mysfit-name"), (t) => t === target.name, `back on ${target.name}`);
  });

  let liked;
  await step("Like: the count goes up by one", async () => {
    await openTarget();
    const before = await shownLikes();
    await page.getByTestId("like-button").click();
    await waitForText(likes, (t) => t === String(before + 1), `likes ${before + 1}`).catch(async (error) => {
      const shown = await visibleText(message);
      throw shown ? new Error(`expected likes ${before + 1}, saw the message ${JSON.stringify(shown)}`) : error;
    });
    await waitForText(message, (t) => t.includes("liked"), `"You liked ..."`);
    expectEqual((await apiGet(`/mysfits/${target.mysfitId}`)).likes, before + 1, "likes in the API");
    liked = before + 1;
  });

  await step("after a reload the count is still one more", async () => {
    await page.reload();
    await waitForText(page.getByTestId("mysfit-name"), (t) => t === target.name, `the details of ${target.name}`);
    expectEqual(await shownLikes(), liked, "likes after reload");
    await waitForText(page.getByTestId("signed-in-as"), (t) => t.includes(email), "still signed in after reload");
  });

  await step("an expired ID token is refreshed before the next Like", async () => {
    const flowsBefore = authFlows.length;
    // Make the stored ID token look expired: the page must refresh it.
    await page.evaluate(() => {
      const session = JSON.parse(sessionStorage.getItem("mysfits.session"));
      session.expiresAt = Date.now() - 1000;
      sessionStorage.setItem("mysfits.session", JSON.stringify(session));
    });
    await page.getByTestId("like-button").click();
    await waitForText(likes, (t) => t === String(liked + 1), `likes ${liked + 1}`).catch(async (error) => {
      const shown = await visibleText(message);
      throw shown ? new Error(`expected likes ${liked + 1}, saw the message ${JSON.stringify(shown)}`) : error;
    });
    const flows = authFlows.slice(flowsBefore);
    expectEqual(flows.includes("REFRESH_TOKEN_AUTH"), true, `a REFRESH_TOKEN_AUTH call among ${JSON.stringify(flows)}`);
    liked += 1;
  });

  await step("Adopt: the mysfit shows as adopted", async () => {
    await page.getByTestId("adopt-button").click();
    await waitForText(adopted, (t) => t === "Adopted", `"Adopted"`).catch(async (error) => {
      const shown = await visibleText(message);
      throw shown ? new Error(`expected "Adopted", saw the message ${JSON.stringify(shown)}`) : error;
    });
    await waitUntil(() => page.getByTestId("adopt-button").isDisabled(), (d) => d, "the Adopt button disabled");
    expectEqual((await apiGet(`/mysfits/${target.mysfitId}`)).adopted, true, "adopted in the API");
    await page.reload();
    await waitForText(adopted, (t) => t === "Adopted", `"Adopted" after reload`);
  });

  await step("sign out", async () => {
    const postsBefore = posts.length;
    await page.getByTestId("nav-signout").click();
    await page.getByTestId("nav-signin").waitFor();
    await waitForText(flash, (t) => t.includes("signed out"), `"You are signed out."`);
    expectEqual(await page.getByTestId("signed-in-as").isVisible(), false, "signed-in name after sign-out");
    const stored = await page.evaluate(() => sessionStorage.getItem("mysfits.session"));
    expectEqual(stored, null, "session kept in sessionStorage after sign-out");
    await openTarget();
    const before = await shownLikes();
    await page.getByTestId("like-button").click();
    await waitForText(message, (t) => t.includes("Please sign in to like"), "a sign-in prompt after sign-out");
    expectEqual(await shownLikes(), before, "likes after a signed-out Like");
    expectEqual(posts.length, postsBefore, "like/adopt requests sent after sign-out");
  });
});
