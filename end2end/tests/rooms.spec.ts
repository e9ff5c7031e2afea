import {
  test,
  expect,
  accountInRoom,
  connection,
  hydrated,
  log,
  newContext,
  postOverSocket,
  signInThroughPage,
  signUpViaApi,
  uniqueUsername,
  PASSWORD,
} from "./fixtures";
import type { Browser, Page } from "@playwright/test";

/** The room list beside the room. */
function myRooms(page: Page) {
  return page.getByRole("navigation", { name: "Your rooms" });
}

/** One room's line in the list. */
function listed(page: Page, room: string) {
  return myRooms(page).locator(`li[data-room="${room}"]`);
}

async function openRoom(page: Page, room: string): Promise<void> {
  await page.goto(`/chat/${room}/`);
  await hydrated(page);
  await expect(connection(page)).toHaveAttribute("data-state", "live");
}

/** Ada, signed up in `room`, joins it (it is in her list), then looks at `elsewhere`. */
async function joinedThenElsewhere(browser: Browser, baseURL: string, room: string, elsewhere: string) {
  const ada = await accountInRoom(browser, baseURL, room, "Ada");
  await ada.page.getByRole("button", { name: "Join", exact: true }).click();
  await expect(listed(ada.page, room)).toBeVisible();
  await openRoom(ada.page, elsewhere);
  return ada;
}

test("Bob's message in a room Ada is not looking at counts in her list and her tab title; reading it on her other device clears it in both", async ({
  browser,
  baseURL,
}) => {
  const watched = "unread-watched";
  const elsewhere = "unread-elsewhere";
  // Ada looks at another room; the one she joined has nothing new.
  const ada = await joinedThenElsewhere(browser, baseURL!, watched, elsewhere);
  await expect(listed(ada.page, watched)).toBeVisible();
  await expect(listed(ada.page, watched).locator(".unread-count")).toHaveCount(0);

  // Bob, from a script, posts in the room she joined.
  const bob = await signUpViaApi(baseURL!, uniqueUsername("bob"), "Bob", PASSWORD);
  await postOverSocket(baseURL!, bob, watched, [{ id: crypto.randomUUID(), body: "Hello from Bob" }]);

  await expect(listed(ada.page, watched).locator(".unread-count")).toHaveAttribute("data-unread", "1");
  await expect(listed(ada.page, watched).locator(".unread-count")).toHaveText("1");
  await expect(ada.page).toHaveTitle(/^\(1\) /);

  // Her "second device": another context, same account, opens the room.
  const device = await newContext(browser, { baseURL });
  const second = await device.newPage();
  await signInThroughPage(second, ada, { next: `/chat/${watched}/` });
  await hydrated(second);
  await expect(connection(second)).toHaveAttribute("data-state", "live");
  const bobsMessage = log(second).getByRole("listitem").filter({ hasText: "Hello from Bob" });
  await expect(bobsMessage.locator("#unread-divider")).toHaveText("New messages");
  await expect(log(second).locator("#unread-divider")).toHaveCount(1);

  // Seen on the second device: the count clears there and on the first.
  await expect(listed(second, watched).locator(".unread-count")).toHaveCount(0);
  await expect(listed(ada.page, watched).locator(".unread-count")).toHaveCount(0);
  await expect(ada.page).not.toHaveTitle(/^\(\d+\) /);
  await expect(second).not.toHaveTitle(/^\(\d+\) /);
});

test("a mention counts apart from the unread messages; a room read up to its last message shows no divider", async ({
  browser,
  baseURL,
}) => {
  const room = "mention-counted";
  const ada = await joinedThenElsewhere(browser, baseURL!, room, "mention-elsewhere");

  const bob = await signUpViaApi(baseURL!, uniqueUsername("bob"), "Bob", PASSWORD);
  await postOverSocket(baseURL!, bob, room, [
    { id: crypto.randomUUID(), body: "Morning all" },
    { id: crypto.randomUUID(), body: `@${ada.username} can you look at the deploy?` },
    { id: crypto.randomUUID(), body: "`@" + ada.username + "` in code is not a mention" },
  ]);
  const line = listed(ada.page, room);
  await expect(line.locator(".unread-count")).toHaveAttribute("data-unread", "3");
  await expect(line.locator(".mentions")).toHaveAttribute("data-mentions", "1");
  await expect(line.getByRole("link")).toHaveAttribute("aria-label", `#${room}, 3 unread, 1 mentioning you`);

  // Opening the room reads it: both counts go, and coming back shows no divider.
  await line.getByRole("link").click();
  await expect(ada.page).toHaveURL(new RegExp(`/chat/${room}/`));
  await hydrated(ada.page);
  await expect(listed(ada.page, room).locator(".unread-count")).toHaveCount(0);
  await expect(listed(ada.page, room).locator(".mentions")).toHaveCount(0);
  await openRoom(ada.page, "mention-elsewhere");
  await expect(listed(ada.page, room).locator(".unread-count")).toHaveCount(0);
  await openRoom(ada.page, room);
  await expect(log(ada.page).getByRole("listitem").filter({ hasText: "deploy" })).toBeVisible();
  await expect(log(ada.page).locator("#unread-divider")).toHaveCount(0);

  // The mention the server found is highlighted and leads to a conversation
  // with Ada; the one in code is text. The message that mentions her stands out.
  const mentioning = log(ada.page).locator("li.message").filter({ hasText: "deploy" });
  await expect(mentioning).toHaveClass(/mentions-me/);
  await expect(mentioning.locator("a.mention")).toHaveAttribute("href", `/chat/@${ada.username}/`);
  const inCode = log(ada.page).locator("li.message").filter({ hasText: "in code is not a mention" });
  await expect(inCode.locator("a.mention")).toHaveCount(0);
  await expect(inCode).not.toHaveClass(/mentions-me/);
  // Bob's three messages within minutes: one name, one day divider.
  const bobs = log(ada.page).locator("li.message");
  await expect(bobs).toHaveCount(3);
  await expect(bobs.nth(0)).not.toHaveClass(/grouped/);
  await expect(bobs.nth(1)).toHaveClass(/grouped/);
  await expect(bobs.nth(2)).toHaveClass(/grouped/);
  await expect(log(ada.page).locator(".day-divider")).toHaveCount(1);
  await expect(log(ada.page).locator(".day-divider")).toHaveText("Today");
  await expect(bobs.nth(0).locator(".avatar")).toHaveText("B");
});

test("with the first unread message scrolled out of view above, a button jumps back to it, then goes", async ({
  browser,
  baseURL,
}) => {
  const room = "unread-jump";
  const ada = await joinedThenElsewhere(browser, baseURL!, room, "unread-jump-elsewhere");

  // Forty new messages while she is away, more than a screen (twenty an account).
  for (const name of ["Bob", "Carol"]) {
    const cookie = await signUpViaApi(baseURL!, uniqueUsername(name.toLowerCase()), name, PASSWORD);
    const lines = Array.from({ length: 20 }, (_, i) => ({ id: crypto.randomUUID(), body: `${name}'s line ${i + 1}` }));
    await postOverSocket(baseURL!, cookie, room, lines);
  }
  await expect(listed(ada.page, room).locator(".unread-count")).toHaveAttribute("data-unread", "40");

  // The room opens at the divider: nothing to jump to.
  await openRoom(ada.page, room);
  const divider = log(ada.page).locator("#unread-divider");
  await expect(divider).toBeInViewport();
  const jump = ada.page.getByRole("button", { name: "Jump to first unread" });
  await expect(jump).toHaveCount(0);

  // Scrolled to the newest, the divider is above: the button offers the way back.
  await ada.page.locator(".log-scroller").evaluate((el) => el.scrollTo(0, el.scrollHeight));
  await expect(divider).not.toBeInViewport();
  await expect(jump).toBeVisible();
  await jump.click();
  await expect(divider).toBeInViewport();
  await expect(jump).toHaveCount(0);
});
