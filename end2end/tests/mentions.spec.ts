import { test, expect, accountInRoom, composer, log, postOverSocket, signUpViaApi, uniqueUsername, PASSWORD } from "./fixtures";

test("typing @ offers the room's people first; the keyboard picks one and the message mentions them", async ({
  browser,
  baseURL,
}) => {
  const room = "mention-helper";
  // Two Robins: one has posted in the room (a member), one has not. (A name
  // no other test uses: the helper offers a few people, and other tests make
  // many Bobs.)
  const member = { username: uniqueUsername("robin") };
  const memberCookie = await signUpViaApi(baseURL!, member.username, "Robin Member", PASSWORD);
  await postOverSocket(baseURL!, memberCookie, room, [{ id: crypto.randomUUID(), body: "hello" }]);
  await signUpViaApi(baseURL!, uniqueUsername("robin"), "Robin Stranger", PASSWORD);
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  const box = composer(ada.page);
  const offered = ada.page.getByRole("listbox", { name: "People to mention" });

  await box.pressSequentially("thanks @robin");
  await expect(offered).toBeVisible();
  const options = offered.getByRole("option");
  await expect(options.first()).toContainText("Robin Member");
  await expect(options.first()).toHaveAttribute("aria-selected", "true");
  await expect(offered.getByRole("option", { name: /Robin Stranger/ })).toBeVisible();

  // Escape closes it and leaves the text; typing on offers again.
  await box.press("Escape");
  await expect(offered).toBeHidden();
  await expect(box).toHaveValue("thanks @robin");
  await box.pressSequentially("-");
  await expect(options.first()).toContainText("Robin Member");

  // Arrow keys move, Enter takes (it does not send), Enter again sends.
  await box.press("ArrowDown");
  await box.press("ArrowUp");
  await expect(box).toHaveAttribute("aria-activedescendant", "mention-option-0");
  await box.press("Enter");
  await expect(offered).toBeHidden();
  await expect(box).toHaveValue(`thanks @${member.username} `);
  await box.pressSequentially("for the review");
  await box.press("Enter");
  await expect(box).toHaveValue("");
  const sent = log(ada.page).getByRole("listitem").filter({ hasText: "for the review" });
  await expect(sent.getByRole("link", { name: `@${member.username}` })).toBeVisible();
});
