import { test, expect, accountInRoom, log, postOverSocket, signUpViaApi, uniqueUsername, PASSWORD } from "./fixtures";

test("a link to a message further back than the first page opens the room there, what is between loaded at once", async ({
  browser,
  baseURL,
}) => {
  const room = "jump-back";
  // More than two pages of 50: message 3 is two pages back. Twenty an account
  // (each account's allowance of posts at once).
  for (let first = 1; first <= 120; first += 20) {
    const cookie = await signUpViaApi(baseURL!, uniqueUsername("bot"), "Bot", PASSWORD);
    const messages = Array.from({ length: 20 }, (_, i) => ({ id: `jump-${first + i}`, body: `note number ${first + i}` }));
    await postOverSocket(baseURL!, cookie, room, messages);
  }
  const ada = await accountInRoom(browser, baseURL!, "jump-lobby", "Ada");
  const pages: string[] = [];
  ada.page.on("request", (request) => {
    if (request.url().includes("/api/history")) pages.push(request.url());
  });
  await ada.page.goto(`/chat/${room}/#m3`);
  const target = log(ada.page).locator("#m3");
  await expect(target).toContainText("note number 3");
  await expect(target).toBeInViewport();
  // Everything between is there, in order, once.
  const bodies = await log(ada.page).locator("li.message[data-seq] .body").allTextContents();
  expect(bodies.slice(0, 3)).toEqual(["note number 1", "note number 2", "note number 3"]);
  expect(bodies).toHaveLength(120);
  // Everything down to it in one request, not a page of fifty at a time.
  expect(pages).toHaveLength(1);
});
