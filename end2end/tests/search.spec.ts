import {
  test,
  expect,
  accountInRoom,
  hydrated,
  log,
  newContext,
  postOverSocket,
  send,
  signUpViaApi,
  uniqueUsername,
  PASSWORD,
} from "./fixtures";

test("search finds a word in English and one inside Japanese, marks it, and opens the room at the message", async ({
  browser,
  baseURL,
}) => {
  const room = "search-here";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  await send(ada.page, "the quarterly report is ready");
  await send(ada.page, "明日の会議は10時です");
  // More than a page after them: the result must load older pages to show it.
  for (let first = 0; first < 60; first += 20) {
    const cookie = await signUpViaApi(baseURL!, uniqueUsername("bot"), "Bot", PASSWORD);
    const messages = Array.from({ length: 20 }, (_, i) => ({ id: `filler-${first + i}`, body: `filler ${first + i}` }));
    await postOverSocket(baseURL!, cookie, room, messages);
  }

  await ada.page.getByRole("link", { name: "Search", exact: true }).click();
  await expect(ada.page).toHaveURL(/\/search$/);
  await hydrated(ada.page);
  const box = ada.page.getByRole("searchbox", { name: "Search messages" });
  // The index follows the messages in the background: ask until it has them.
  await expect(async () => {
    await box.fill("REPORT");
    await box.press("Enter");
    await expect(ada.page.locator(".hit")).toHaveCount(1, { timeout: 1000 });
  }).toPass();
  await expect(ada.page).toHaveURL(/\/search\?q=REPORT/);
  const hit = ada.page.locator(".hit");
  await expect(hit.locator("mark")).toHaveText("report");
  await expect(hit).toContainText(`#${room}`);
  await expect(hit).toContainText("Ada");

  await box.fill("会議");
  await box.press("Enter");
  await expect(hit.locator("mark")).toHaveText("会議");
  await expect(hit).toContainText("明日の会議は10時です");
  // The result opens the room there, older pages loaded until it is.
  await hit.getByRole("link").click();
  await expect(ada.page).toHaveURL(new RegExp(`/chat/${room}/#m2$`));
  await expect(log(ada.page).locator("#m2")).toBeInViewport();

  // Nothing found says so; without JavaScript the same address answers.
  const plain = await newContext(browser, { baseURL, javaScriptEnabled: false });
  const page = await plain.newPage();
  await page.goto("/search?q=quarterly");
  await expect(page.locator(".hit mark")).toHaveText("quarterly");
  await page.goto("/search?q=%22%20OR%20*%20NEAR(");
  await expect(page.getByRole("status")).toHaveText(/No messages match/);
});
