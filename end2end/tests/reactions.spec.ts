import { test, expect, accountInRoom, composer, log, postOverSocket, send, signUpViaApi, uniqueUsername, PASSWORD } from "./fixtures";

test("reactions: picked or typed, counted once per person, toggled, named on hover, live for both", async ({
  browser,
  baseURL,
}) => {
  const room = "reactions-live";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  const bob = await accountInRoom(browser, baseURL!, room, "Bob");
  await send(ada.page, "we shipped it");
  const message = (page: typeof ada.page) => log(page).getByRole("listitem").filter({ hasText: "we shipped it" });
  const chip = (page: typeof ada.page, emoji: string) => message(page).locator(`.reaction[data-emoji="${emoji}"]`);

  // Bob picks one from the picker.
  await message(bob.page).hover();
  await message(bob.page).getByRole("button", { name: "Add a reaction" }).click();
  await bob.page.getByRole("button", { name: "React with 🎉" }).click();
  await expect(bob.page.getByRole("dialog", { name: "Add a reaction" })).toHaveCount(0);
  for (const page of [ada.page, bob.page]) await expect(chip(page, "🎉")).toHaveText("🎉 1");
  await expect(chip(bob.page, "🎉")).toHaveAttribute("aria-pressed", "true");
  await expect(chip(ada.page, "🎉")).toHaveAttribute("aria-pressed", "false");

  // Ada adds hers by clicking the chip; both names are on it.
  await chip(ada.page, "🎉").click();
  for (const page of [ada.page, bob.page]) await expect(chip(page, "🎉")).toHaveText("🎉 2");
  await expect(chip(ada.page, "🎉")).toHaveAttribute("aria-pressed", "true");
  const who = await chip(bob.page, "🎉").getAttribute("data-who");
  expect(who).toContain(bob.username);
  expect(who).toContain(ada.username);

  // Any emoji can be typed; what is not one is refused on the spot.
  await message(bob.page).hover();
  await message(bob.page).getByRole("button", { name: "Add a reaction" }).click();
  const other = bob.page.getByRole("textbox", { name: "Any emoji" });
  await other.fill("+1");
  await other.press("Enter");
  await expect(bob.page.getByRole("dialog", { name: "Add a reaction" }).getByRole("alert")).toHaveText("A reaction is one emoji.");
  await other.fill("🦀");
  await other.press("Enter");
  for (const page of [ada.page, bob.page]) await expect(chip(page, "🦀")).toHaveText("🦀 1");

  // Bob takes his 🎉 back: one left, Ada's.
  await chip(bob.page, "🎉").click();
  for (const page of [ada.page, bob.page]) await expect(chip(page, "🎉")).toHaveText("🎉 1");
  await expect(chip(bob.page, "🎉")).toHaveAttribute("aria-pressed", "false");

  // A reload shows them as they are, the reader's own pressed.
  await ada.page.reload();
  await expect(chip(ada.page, "🎉")).toHaveText("🎉 1");
  await expect(chip(ada.page, "🎉")).toHaveAttribute("aria-pressed", "true");
  await expect(chip(ada.page, "🦀")).toHaveAttribute("aria-pressed", "false");
});

test("a reply quotes its message; the quote jumps to it, older pages loaded; a deleted one says so", async ({
  browser,
  baseURL,
}) => {
  const room = "replies";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  const bob = await accountInRoom(browser, baseURL!, room, "Bob");
  await send(ada.page, "lunch at noon?\nor later");
  const question = log(bob.page).locator("#m1");
  await expect(question).toContainText("lunch at noon?");
  await question.hover();
  await question.getByRole("button", { name: "Reply" }).click();
  await expect(bob.page.locator(".replying")).toContainText("Replying to Ada: lunch at noon?");
  await expect(composer(bob.page)).toBeFocused();
  await send(bob.page, "noon works");
  await expect(bob.page.locator(".replying")).toHaveCount(0);
  for (const page of [ada.page, bob.page]) {
    const reply = log(page).getByRole("listitem").filter({ hasText: "noon works" });
    await expect(reply.locator(".quote")).toHaveText("Ada lunch at noon?");
  }
  // Escape in the composer takes a reply back.
  await question.hover();
  await question.getByRole("button", { name: "Reply" }).click();
  await composer(bob.page).press("Escape");
  await expect(bob.page.locator(".replying")).toHaveCount(0);

  // Deleted, the message it answers shows as such in the quote, live.
  const asked = log(ada.page).locator("#m1");
  await asked.hover();
  ada.page.once("dialog", (dialog) => dialog.accept());
  await asked.getByRole("button", { name: "Delete" }).click();
  const quote = log(bob.page).getByRole("listitem").filter({ hasText: "noon works" }).locator(".quote");
  await expect(quote).toHaveText("Ada Message deleted");

  // A reply to a message two pages back: its quote loads them and shows it.
  const far = "replies-far";
  for (let first = 1; first <= 120; first += 20) {
    const cookie = await signUpViaApi(baseURL!, uniqueUsername("bot"), "Bot", PASSWORD);
    const messages = Array.from({ length: 20 }, (_, i) => ({ id: `far-${first + i}`, body: `line ${first + i}` }));
    await postOverSocket(baseURL!, cookie, far, messages);
  }
  const cookie = await signUpViaApi(baseURL!, uniqueUsername("cy"), "Cy", PASSWORD);
  await postOverSocket(baseURL!, cookie, far, [{ id: "far-reply", body: "about that first line", reply_to: 1 }]);
  await ada.page.goto(`/chat/${far}/`);
  const farQuote = log(ada.page).getByRole("listitem").filter({ hasText: "about that first line" }).locator(".quote");
  await expect(farQuote).toHaveText("Bot line 1");
  await expect(log(ada.page).locator("#m1")).toHaveCount(0);
  await farQuote.click();
  await expect(log(ada.page).locator("#m1")).toBeInViewport();
  await expect(log(ada.page).locator("li.message[data-seq]")).toHaveCount(121);
});
