import { test, expect, accountInRoom, hydrated, log, send } from "./fixtures";

// The account page's tokens and webhooks, used as a script would use them:
// what they post shows live in the room's open page.

test("a token made on the account page posts from a script, and once revoked is refused", async ({ browser, server, request }) => {
  const room = `scripts-${Date.now()}`;
  const ada = await accountInRoom(browser, server.url, room, "Ada");
  const watcher = await accountInRoom(browser, server.url, room, "Bob");

  const account = await ada.context.newPage();
  await account.goto("/account");
  await hydrated(account);
  const tokens = account.locator('section[aria-labelledby="tokens"]');
  await tokens.getByLabel("Name", { exact: true }).fill("deploys");
  await tokens.getByLabel("Post", { exact: true }).check();
  await tokens.getByRole("button", { name: "Make token" }).click();
  const shown = account.locator("[data-secret]");
  await expect(shown).toContainText("chat_pat_");
  const token = (await shown.textContent())!.trim();
  await expect(account.locator('[data-token="deploys"]')).toContainText("read, post");

  const posted = await request.post(`${server.url}/api/v1/rooms/${room}/messages`, {
    headers: { Authorization: `Bearer ${token}` },
    data: { text: "Deployed **v3** from CI" },
  });
  expect(posted.status()).toBe(201);
  // Everyone's open page shows it at once, as Ada's.
  await expect(log(watcher.page).getByText("Deployed v3 from CI")).toBeVisible();
  await expect(log(ada.page).getByText("Deployed v3 from CI")).toBeVisible();

  // Shown once: a reload lists the token by its start only.
  await account.reload();
  await hydrated(account);
  await expect(account.locator("[data-secret]")).toHaveCount(0);
  await expect(account.locator('[data-token="deploys"]')).not.toContainText(token);
  await account.locator('[data-token="deploys"]').getByRole("button", { name: "Revoke" }).click();
  await expect(account.locator('[data-token="deploys"]')).toHaveCount(0);
  const refused = await request.get(`${server.url}/api/v1/rooms/${room}/messages`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(refused.status()).toBe(401);
});

test("a room's webhook posts as its bot in the open room", async ({ browser, server, request }) => {
  const room = `hooks-${Date.now()}`;
  const ada = await accountInRoom(browser, server.url, room, "Ada");
  await send(ada.page, "my room"); // the first to post owns it
  const bob = await accountInRoom(browser, server.url, room, "Bob");

  const account = await ada.context.newPage();
  await account.goto("/account");
  await hydrated(account);
  const webhooks = account.locator('section[aria-labelledby="webhooks"]');
  await webhooks.getByLabel("Room").fill(room);
  await webhooks.getByLabel("Bot username").fill(`ci-${Date.now().toString(36)}`);
  await webhooks.getByLabel("Bot's name").fill("Build Bot");
  await webhooks.getByRole("button", { name: "Make webhook" }).click();
  const url = (await account.locator("[data-secret]").textContent())!.trim();
  expect(url).toMatch(/\/hooks\/chat_hook_[0-9a-f]{64}$/);

  const posted = await request.post(url, { data: { text: "Build <https://ci.example/9|#9> passed" } });
  expect(posted.status()).toBe(200);
  for (const page of [ada.page, bob.page]) {
    const message = log(page).locator("li.message[data-seq]").filter({ hasText: "passed" });
    await expect(message).toContainText("Build Bot");
    await expect(message.getByRole("link", { name: "#9" })).toHaveAttribute("href", "https://ci.example/9");
  }
});
