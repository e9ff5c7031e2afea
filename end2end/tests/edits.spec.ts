import { test, expect, accountInRoom, composer, log, send } from "./fixtures";

test("editing and deleting one's own message: the other person sees both live", async ({ browser, baseURL }) => {
  const room = "edits-live";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  const bob = await accountInRoom(browser, baseURL!, room, "Bob");
  await send(ada.page, "teh plan is ready");
  await send(ada.page, "and a second thought");
  const bobSees = (text: string) => log(bob.page).getByRole("listitem").filter({ hasText: text });
  await expect(bobSees("teh plan is ready")).toHaveCount(1);

  // Edit from the message's actions: the box holds its text; Enter saves.
  const first = log(ada.page).getByRole("listitem").filter({ hasText: "teh plan is ready" });
  await first.hover();
  await first.getByRole("button", { name: "Edit" }).click();
  const box = ada.page.getByRole("textbox", { name: "Edit message" });
  await expect(box).toHaveValue("teh plan is ready");
  await expect(box).toBeFocused();
  await box.fill("the plan is ready");
  await box.press("Enter");
  for (const page of [ada.page, bob.page]) {
    const edited = log(page).getByRole("listitem").filter({ hasText: "the plan is ready" });
    await expect(edited).toHaveCount(1);
    await expect(edited).toContainText("(edited)");
    await expect(log(page).getByText("teh plan is ready")).toHaveCount(0);
  }
  // It keeps its place: still before the second message.
  await expect(log(bob.page).locator("li.message[data-seq] .body")).toHaveText(["the plan is ready", "and a second thought"]);

  // Up in the empty composer edits the last one; Escape leaves it as it was.
  await composer(ada.page).click();
  await composer(ada.page).press("ArrowUp");
  await expect(box).toHaveValue("and a second thought");
  await box.press("Escape");
  await expect(box).toHaveCount(0);

  // Delete asks first; then a tombstone keeps the place, for both.
  const second = log(ada.page).getByRole("listitem").filter({ hasText: "and a second thought" });
  await second.hover();
  ada.page.once("dialog", (dialog) => dialog.dismiss());
  await second.getByRole("button", { name: "Delete" }).click();
  await expect(bobSees("and a second thought")).toHaveCount(1);
  await second.hover();
  ada.page.once("dialog", (dialog) => dialog.accept());
  await second.getByRole("button", { name: "Delete" }).click();
  for (const page of [ada.page, bob.page]) {
    await expect(log(page).getByText("Message deleted")).toHaveCount(1);
    await expect(log(page).getByText("and a second thought")).toHaveCount(0);
  }
  // Bob's copy of Ada's messages offers him no edit or delete.
  const bobsFirst = bobSees("the plan is ready");
  await bobsFirst.hover();
  await expect(bobsFirst.getByRole("button", { name: "Edit" })).toHaveCount(0);

  // After a reload, the history shows them as they are now.
  await bob.page.reload();
  await expect(log(bob.page).locator("li.message[data-seq] .body")).toHaveText(["the plan is ready", "Message deleted"]);
});

test("an edit saved while offline is sent once the page is back online, and shows as saving until then", async ({
  browser,
  baseURL,
}) => {
  const ada = await accountInRoom(browser, baseURL!, "edits-offline", "Ada");
  await send(ada.page, "draft one");
  const mine = log(ada.page).getByRole("listitem").filter({ hasText: "draft one" });
  await mine.hover();
  await mine.getByRole("button", { name: "Edit" }).click();
  const box = ada.page.getByRole("textbox", { name: "Edit message" });
  await box.fill("draft two");
  await ada.context.setOffline(true);
  await expect(ada.page.locator(".connection")).not.toHaveAttribute("data-state", "live");
  await box.press("Enter");
  await expect(ada.page.locator("form.editor")).toContainText("Saving…");
  await ada.context.setOffline(false);
  await expect(log(ada.page).getByRole("listitem").filter({ hasText: "draft two" })).toContainText("(edited)");
  await expect(ada.page.locator("form.editor")).toHaveCount(0);
});
