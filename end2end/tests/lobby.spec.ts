import { test, expect, hydrated } from "./fixtures";

test("the root leads to the lobby", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/chat\/$/);
  await expect(page.getByLabel("Room name")).toBeVisible();
});

test("the lobby form leads to the room, with the name normalised", async ({ page }) => {
  await page.goto("/chat/");
  await hydrated(page);
  await expect(page).toHaveTitle("Lobby · Chat");
  await page.getByLabel("Room name").fill("  Rust Nation ");
  await page.getByRole("button", { name: "Go" }).click();
  await expect(page).toHaveURL(/\/chat\/rust-nation\/$/);
  await expect(page.getByRole("heading", { name: "#rust-nation" })).toBeVisible();
  await expect(page.getByText("This is the beginning of #rust-nation. No messages yet: say hello!")).toBeVisible();
  await expect(page.getByRole("log", { name: "Messages" })).toBeAttached();
  // The tab's title follows the page the app moved to, and back.
  await expect(page).toHaveTitle("#rust-nation · Chat");
  await page.getByRole("link", { name: "Lobby" }).click();
  await expect(page).toHaveURL(/\/chat\/$/);
  await expect(page).toHaveTitle("Lobby · Chat");
});

test("the lobby form works without JavaScript", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/chat/");
  await page.getByLabel("Room name").fill("No Script");
  await page.getByLabel("Room name").press("Enter");
  await expect(page).toHaveURL(/\/chat\/no-script\/$/);
  await expect(page.getByRole("heading", { name: "#no-script" })).toBeVisible();
  await context.close();
});

test("a bad room name shows what is wrong, and the form stays usable", async ({ page }) => {
  await page.goto("/chat/");
  await hydrated(page);
  const field = page.getByLabel("Room name");
  await field.fill("no/slashes");
  await page.getByRole("button", { name: "Go" }).click();
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", "invalid_character");
  await expect(page.getByRole("alert")).toContainText("/");
  await expect(field).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/chat\/\?room=/);

  await field.fill("fixed");
  await page.getByRole("button", { name: "Go" }).click();
  await expect(page).toHaveURL(/\/chat\/fixed\/$/);
});

test("a bad room name in the address shows a clear page", async ({ page }) => {
  const response = await page.goto("/chat/caf%C3%A9/");
  expect(response?.status()).toBe(400);
  await expect(page.getByRole("heading", { name: "That is not a room name" })).toBeVisible();
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", "invalid_character");
  await expect(page.getByRole("alert")).toContainText("é");
  await page.getByRole("link", { name: "Back to the lobby" }).click();
  await expect(page.getByLabel("Room name")).toBeVisible();
});

test("another spelling of a room name leads to the same room", async ({ page }) => {
  await page.goto("/chat/General/");
  await expect(page).toHaveURL(/\/chat\/general\/$/);
});
