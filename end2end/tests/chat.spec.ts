import {
  test,
  expect,
  personInRoom,
  accountInRoom,
  log,
  send,
  connection,
  composer,
  accountNav,
  hydrated,
  SIGN_IN_PROMPT,
} from "./fixtures";

test("two people in a room see each other's messages live; another room sees none", async ({
  browser,
  baseURL,
}) => {
  const ada = await personInRoom(browser, baseURL!, "tea", "Ada");
  const bob = await personInRoom(browser, baseURL!, "tea", "Bob");
  const carol = await personInRoom(browser, baseURL!, "coffee", "Carol");

  await send(ada, "Hello from Ada");
  for (const page of [ada, bob]) {
    const message = log(page).getByRole("listitem").filter({ hasText: "Hello from Ada" });
    await expect(message).toHaveCount(1);
    await expect(message.locator(".author")).toHaveText("Ada");
    await expect(message.locator("time")).toHaveText(/^\d\d:\d\d$/);
  }

  await send(bob, "Hi Ada, Bob here");
  await expect(log(ada).getByText("Hi Ada, Bob here")).toHaveCount(1);

  // Carol's own message arrives; nothing from the other room ever did.
  await send(carol, "Anyone in coffee?");
  await expect(log(carol).getByText("Anyone in coffee?")).toHaveCount(1);
  await expect(log(carol)).not.toContainText("Hello from Ada");
  await expect(log(carol)).not.toContainText("Bob here");
  await expect(log(ada)).not.toContainText("Anyone in coffee?");

  // Both in the tea room are listed as present.
  await expect(ada.getByText("2 people here")).toBeVisible();
});

test("Enter sends, Shift+Enter makes a new line", async ({ browser, baseURL }) => {
  const ada = await personInRoom(browser, baseURL!, "lines", "Ada");
  const box = composer(ada);
  await box.click();
  await box.pressSequentially("line one");
  await box.press("Shift+Enter");
  await box.pressSequentially("line two");
  await expect(box).toHaveValue("line one\nline two");
  await box.press("Enter");
  await expect(box).toHaveValue("");
  // The new line is kept as a line break (a <br>), not run into one line.
  const body = log(ada).locator("li.message[data-seq] .body").last();
  await expect(body.locator("br")).toHaveCount(1);
  await expect(body).toHaveText("line one\nline two", { useInnerText: true });
});

test("a signed-in person stays signed in across a reload and posts under their display name", async ({
  browser,
  baseURL,
}) => {
  // Her username (ada-lovelace-…) is not her display name, so the author shown proves which one is used.
  const ada = await accountInRoom(browser, baseURL!, "memory", "Ada Lovelace");
  const bob = await personInRoom(browser, baseURL!, "memory", "Bob");

  await ada.page.reload();
  await hydrated(ada.page);
  await expect(connection(ada.page)).toHaveAttribute("data-state", "live");
  await expect(accountNav(ada.page)).toContainText("Signed in as Ada Lovelace");
  await expect(ada.page.getByText(SIGN_IN_PROMPT)).toHaveCount(0);
  await expect(composer(ada.page)).toBeVisible();

  await send(ada.page, "still Ada");
  // The author is the display name the server knows, not the username, on both sides.
  for (const page of [ada.page, bob]) {
    const message = log(page).locator("li.message[data-seq]").filter({ hasText: "still Ada" });
    await expect(message).toHaveCount(1);
    await expect(message.locator(".author")).toHaveText("Ada Lovelace");
  }
});

test("an over-long message is refused with a clear error and the room keeps working", async ({
  browser,
  baseURL,
}) => {
  const ada = await personInRoom(browser, baseURL!, "limits", "Ada");
  const box = composer(ada);
  await box.fill("x".repeat(4001));
  await expect(ada.getByText("1 character over the limit")).toBeVisible();
  await box.press("Enter");
  await expect(ada.getByRole("alert")).toHaveAttribute("data-code", "too_long");
  await expect(box).toHaveValue("x".repeat(4001));
  await send(ada, "short one");
  await expect(log(ada).getByText("short one")).toHaveCount(1);
});
