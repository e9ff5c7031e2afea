import {
  test,
  expect,
  personInRoom,
  log,
  send,
  connection,
  hydrated,
  signUpViaApi,
  postOverSocket,
  uniqueUsername,
  PASSWORD,
} from "./fixtures";
import type { Page } from "@playwright/test";

/**
 * Posts `count` messages ("bulk message 1", "bulk message 2", …) to `room` from
 * node, as fast clients would: 20 per bot account, one account's burst allowance,
 * each bot on a socket of its own with its session cookie and the site's Origin.
 */
async function postMany(baseURL: string, room: string, count: number): Promise<void> {
  for (let first = 1; first <= count; first += 20) {
    const last = Math.min(first + 19, count);
    const cookie = await signUpViaApi(baseURL, uniqueUsername("bot"), "Bot", PASSWORD);
    const messages = range(first, last).map((i) => ({ id: `bulk-${i}`, body: `bulk message ${i}` }));
    await postOverSocket(baseURL, cookie, room, messages);
  }
}

async function seqsShown(page: Page): Promise<number[]> {
  return log(page)
    .locator("li[data-seq]")
    .evaluateAll((items) => items.map((item) => Number(item.getAttribute("data-seq"))));
}

test("a reload shows the history, once, in order", async ({ browser, baseURL }) => {
  const ada = await personInRoom(browser, baseURL!, "remember", "Ada");
  for (const text of ["first", "second", "third"]) await send(ada, text);
  await expect(log(ada).getByText("third")).toHaveCount(1);

  await ada.reload();
  await hydrated(ada);
  await expect(connection(ada)).toHaveAttribute("data-state", "live");
  for (const text of ["first", "second", "third"]) {
    await expect(log(ada).getByText(text, { exact: true })).toHaveCount(1);
  }
  expect(await seqsShown(ada)).toEqual([1, 2, 3]);
  await send(ada, "fourth");
  await expect.poll(() => seqsShown(ada)).toEqual([1, 2, 3, 4]);
});

test("the history is in the page itself, readable without JavaScript", async ({ browser, baseURL }) => {
  const ada = await personInRoom(browser, baseURL!, "plain", "Ada");
  await send(ada, "readable without scripts");
  const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/chat/plain/");
  await expect(log(page).getByText("readable without scripts")).toBeVisible();
  await context.close();
});

test("scrolling up loads older pages in order, to the beginning of the room", async ({ browser, baseURL }) => {
  await postMany(baseURL!, "archive", 120);

  const context = await browser.newContext({ baseURL });
  const reader = await context.newPage();
  await reader.goto("/chat/archive/");
  await hydrated(reader);
  expect(await seqsShown(reader)).toEqual(range(71, 120));

  const scroller = reader.locator(".log-scroller");
  await scroller.evaluate((el) => (el.scrollTop = 0));
  await expect.poll(() => seqsShown(reader)).toEqual(range(21, 120));
  // The reader's place is kept: message 71 stays where it was, not jumped away.
  const top = await scroller.evaluate((el) => el.scrollTop);
  expect(top).toBeGreaterThan(100);

  // The control does the same without scrolling. (Dispatched where it is: a real
  // click would first scroll it into view, and reaching the top loads by itself.)
  await reader.getByRole("button", { name: "Load older messages" }).dispatchEvent("click");
  await expect.poll(() => seqsShown(reader)).toEqual(range(1, 120));
  await expect(reader.getByText("This is the beginning of #archive.")).toBeVisible();
  await expect(reader.getByRole("button", { name: "Load older messages" })).toHaveCount(0);
  await context.close();
});

test("a message typed offline stays pending and is delivered exactly once back online", async ({
  browser,
  baseURL,
}) => {
  const ada = await personInRoom(browser, baseURL!, "offline", "Ada");
  const bob = await personInRoom(browser, baseURL!, "offline", "Bob");

  await ada.context().setOffline(true);
  await expect(connection(ada)).toHaveAttribute("data-state", "reconnecting");
  await send(ada, "written in a tunnel");
  const pending = log(ada).locator(".pending");
  await expect(pending).toContainText("written in a tunnel");
  await expect(pending.locator("[data-pending]")).toHaveAttribute("data-pending", "sending");
  await expect(log(bob)).not.toContainText("written in a tunnel");

  await ada.context().setOffline(false);
  await expect(connection(ada)).toHaveAttribute("data-state", "live", { timeout: 20_000 });
  await expect(log(bob).getByText("written in a tunnel")).toHaveCount(1);
  await expect(log(ada).getByText("written in a tunnel")).toHaveCount(1);
  await expect(log(ada).locator(".pending")).toHaveCount(0);
  // Still exactly once after everything settled, on a fresh load too.
  await bob.reload();
  await hydrated(bob);
  await expect(log(bob).getByText("written in a tunnel")).toHaveCount(1);
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
