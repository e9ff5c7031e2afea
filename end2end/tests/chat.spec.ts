import { test, expect, personInRoom, log, send, connection } from "./fixtures";

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
    await expect(message).toContainText("Ada");
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
  const composer = ada.getByRole("textbox", { name: "Message" });
  await composer.click();
  await composer.pressSequentially("line one");
  await composer.press("Shift+Enter");
  await composer.pressSequentially("line two");
  await expect(composer).toHaveValue("line one\nline two");
  await composer.press("Enter");
  await expect(composer).toHaveValue("");
  const body = log(ada).locator(".body").last();
  await expect(body).toHaveText("line one\nline two");
});

test("the display name is picked once and remembered", async ({ browser, baseURL }) => {
  const ada = await personInRoom(browser, baseURL!, "memory", "Ada");
  await ada.reload();
  await expect(connection(ada)).toHaveAttribute("data-state", "live");
  await expect(ada.getByLabel("Display name")).toHaveCount(0);
  await send(ada, "still Ada");
  await expect(log(ada).getByRole("listitem").filter({ hasText: "still Ada" })).toContainText("Ada");
});

test("an over-long message is refused with a clear error and the room keeps working", async ({
  browser,
  baseURL,
}) => {
  const ada = await personInRoom(browser, baseURL!, "limits", "Ada");
  const composer = ada.getByRole("textbox", { name: "Message" });
  await composer.fill("x".repeat(4001));
  await expect(ada.getByText("1 character over the limit")).toBeVisible();
  await composer.press("Enter");
  await expect(ada.getByRole("alert")).toContainText("limit is 4000");
  await expect(composer).toHaveValue("x".repeat(4001));
  await send(ada, "short one");
  await expect(log(ada).getByText("short one")).toHaveCount(1);
});
