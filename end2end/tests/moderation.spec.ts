import { test, expect, accountInRoom, connection, log, send } from "./fixtures";

test("the owner deletes another's message, removes them from the room, and finds both in the log", async ({
  browser,
  baseURL,
}) => {
  const room = "moderated";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  await send(ada.page, "welcome, everyone");
  const bob = await accountInRoom(browser, baseURL!, room, "Bob");
  await send(bob.page, "BUY CHEAP WATCHES");

  // Ada made the room: she moderates it (after her page joins again, as any page does on load).
  await ada.page.reload();
  const spam = log(ada.page).getByRole("listitem").filter({ hasText: "BUY CHEAP WATCHES" });
  await spam.hover();
  ada.page.once("dialog", (dialog) => dialog.accept());
  await spam.getByRole("button", { name: "Delete" }).click();
  for (const page of [ada.page, bob.page]) await expect(log(page).getByText("Message deleted")).toHaveCount(1);
  // Bob moderates nothing: no Delete on Ada's message, no Moderation link.
  const welcome = log(bob.page).getByRole("listitem").filter({ hasText: "welcome, everyone" });
  await welcome.hover();
  await expect(welcome.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await expect(bob.page.getByRole("link", { name: "Moderation" })).toHaveCount(0);

  await ada.page.getByRole("link", { name: "Moderation" }).click();
  await expect(ada.page).toHaveURL(new RegExp(`/chat/${room}/moderation$`));
  const remove = ada.page.locator("form", { has: ada.page.getByRole("button", { name: "Remove" }) });
  await remove.getByPlaceholder("username").fill(bob.username);
  await remove.getByRole("button", { name: "Remove" }).click();
  await expect(connection(bob.page)).toContainText("A moderator removed you from this room.");
  const entries = ada.page.locator(".moderation-log li");
  await expect(entries).toHaveCount(2);
  await expect(entries.nth(0)).toContainText(`removed ${bob.username} for good`);
  await expect(entries.nth(1)).toContainText(`deleted a message of ${bob.username}`);

  // Back in the room, Bob stays out: reloading does not bring him back, and says why.
  await bob.page.reload();
  await expect(connection(bob.page)).toContainText("A moderator removed you from this room.");
});
