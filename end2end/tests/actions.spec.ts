import {
  test,
  expect,
  accountInRoom,
  composer,
  log,
  newContext,
  postOverSocket,
  signUpThroughPage,
  signUpViaApi,
  uniqueUsername,
  PASSWORD,
} from "./fixtures";
import type { Locator } from "@playwright/test";

/** The actions bar of one message, and whether it shows (it is there, transparent, otherwise). */
function actionsOf(message: Locator): Locator {
  return message.getByRole("toolbar", { name: "Message actions" });
}

test("hovering or focusing a message shows its actions: copy a link, mention the author, write to them", async ({
  browser,
  baseURL,
}) => {
  const room = "message-actions";
  const bob = uniqueUsername("bob");
  const bobCookie = await signUpViaApi(baseURL!, bob, "Bob", PASSWORD);
  await postOverSocket(baseURL!, bobCookie, room, [{ id: crypto.randomUUID(), body: "the build is green" }]);
  const ada = await accountInRoom(browser, baseURL!, room, "Ada", {
    prepare: (context) => context.grantPermissions(["clipboard-read", "clipboard-write"]),
  });
  const page = ada.page;
  const bobs = log(page).getByRole("listitem").filter({ hasText: "the build is green" });
  const bar = actionsOf(bobs);
  await expect(bar).toHaveCSS("opacity", "0");

  // Hover shows it; it holds the three actions, in reading order.
  await bobs.hover();
  await expect(bar).toHaveCSS("opacity", "1");
  await expect(bar.getByRole("link")).toHaveText(["Copy link", "Mention", "Message privately"]);

  // Copy link puts the message's address on the clipboard and says so.
  const seq = await bobs.getAttribute("data-seq");
  await bar.getByRole("link", { name: "Copy link" }).click();
  await expect(bar.getByRole("link", { name: "Link copied" })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(`${new URL(page.url()).origin}/chat/${room}/#m${seq}`);

  // Mention puts @bob in the composer, focused, and stays on the page.
  await bar.getByRole("link", { name: "Mention" }).click();
  await expect(composer(page)).toHaveValue(`@${bob} `);
  await expect(composer(page)).toBeFocused();
  await composer(page).pressSequentially("thanks");
  await composer(page).press("Enter");
  const mine = log(page).getByRole("listitem").filter({ hasText: "thanks" });
  await expect(mine.getByRole("link", { name: `@${bob}` })).toBeVisible();

  // The keyboard reaches them too: focus alone shows the bar.
  await page.mouse.move(0, 0);
  await expect(bar).toHaveCSS("opacity", "0");
  await bar.getByRole("link", { name: "Message privately" }).focus();
  await expect(bar).toHaveCSS("opacity", "1");

  // One's own message offers only its link.
  await mine.hover();
  await expect(actionsOf(mine).getByRole("link")).toHaveText(["Copy link"]);

  // Message privately opens the conversation with Bob.
  await bobs.hover();
  await bar.getByRole("link", { name: "Message privately" }).click();
  await expect(page).toHaveURL(new RegExp(`/chat/@${bob}/$`));
});

test("with JavaScript off, Mention reloads the room with the mention in the composer", async ({ browser, baseURL }) => {
  const room = "message-actions-plain";
  const bob = uniqueUsername("bob");
  const bobCookie = await signUpViaApi(baseURL!, bob, "Bob", PASSWORD);
  await postOverSocket(baseURL!, bobCookie, room, [{ id: crypto.randomUUID(), body: "anyone around?" }]);
  const context = await newContext(browser, { baseURL, javaScriptEnabled: false });
  const page = await context.newPage();
  await signUpThroughPage(page, { username: uniqueUsername("ada"), displayName: "Ada", password: PASSWORD }, {
    next: `/chat/${room}/`,
    js: false,
  });
  const bobs = log(page).getByRole("listitem").filter({ hasText: "anyone around?" });
  await bobs.hover();
  await actionsOf(bobs).getByRole("link", { name: "Mention" }).click();
  await expect(composer(page)).toHaveValue(`@${bob} `);
  await composer(page).press("Control+End");
  await composer(page).pressSequentially("yes");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await expect(log(page).getByRole("listitem").filter({ hasText: "yes" }).getByRole("link", { name: `@${bob}` })).toBeVisible();
});
