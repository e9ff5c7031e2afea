import { test, expect, accountInRoom, composer, connection, hydrated, log, send } from "./fixtures";
import type { Page } from "@playwright/test";

function directMessages(page: Page) {
  return page.getByRole("navigation", { name: "Your rooms" }).getByRole("list", { name: "Direct messages" });
}

test("a direct message is its two people's only", async ({ browser, baseURL }) => {
  const ada = await accountInRoom(browser, baseURL!, "dm-lobby-a", "Ada");
  const bob = await accountInRoom(browser, baseURL!, "dm-lobby-b", "Bob");
  const cy = await accountInRoom(browser, baseURL!, "dm-lobby-c", "Cy");

  // Ada opens her conversation with Bob by its address and writes.
  await ada.page.goto(`/chat/@${bob.username}/`);
  await hydrated(ada.page);
  await expect(connection(ada.page)).toHaveAttribute("data-state", "live");
  await expect(ada.page.getByRole("heading", { level: 1 })).toHaveText("@Bob");
  await send(ada.page, "psst, just for you");
  await expect(log(ada.page)).toContainText("psst, just for you");

  // Bob, in another room, finds it in his list, unread, and opens it.
  const fromAda = directMessages(bob.page).getByRole("link", { name: /^Ada/ });
  await expect(fromAda).toHaveAttribute("aria-label", "Ada, 1 unread");
  const room = await directMessages(bob.page).locator("li").first().getAttribute("data-room");
  expect(room).toMatch(/^@\d+\.\d+$/);
  await fromAda.click();
  await expect(bob.page).toHaveURL(new RegExp(`/chat/@${ada.username}/$`));
  await hydrated(bob.page);
  await expect(log(bob.page)).toContainText("psst, just for you");
  await expect(directMessages(bob.page).getByRole("link", { name: "Ada" })).toHaveAttribute("aria-current", "page");

  // Cy: the same address is Cy's own conversation with Ada, empty; the pair's
  // history is refused to Cy and to a signed-out reader.
  await cy.page.goto(`/chat/@${ada.username}/`);
  await hydrated(cy.page);
  await expect(cy.page.getByRole("heading", { level: 1 })).toHaveText("@Ada");
  await expect(log(cy.page)).not.toContainText("psst");
  const asCy = await cy.page.request.post("/api/history", { form: { room: room! }, headers: { Accept: "application/json" } });
  expect(asCy.status()).toBeGreaterThanOrEqual(400);
  expect(await asCy.text()).not.toContain("psst");
  const anonymous = await browser.newContext({ baseURL });
  const reader = await anonymous.newPage();
  await reader.goto(`/chat/@${ada.username}/`);
  await expect(reader.getByRole("alert")).toHaveAttribute("data-code", "sign_in_required");
  await expect(reader.locator("body")).not.toContainText("psst");
  await anonymous.close();
  await expect(composer(ada.page)).toBeVisible();
});
