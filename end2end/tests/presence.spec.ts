import { test, expect, accountInRoom, composer } from "./fixtures";
import type { Page } from "@playwright/test";

function people(page: Page) {
  return page.locator("details.members");
}

function typingLine(page: Page) {
  return page.locator("p.typing");
}

test("who is here: each person once, away after five idle minutes, gone when they leave", async ({
  browser,
  baseURL,
}) => {
  const room = "presence-porch";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  // Bob's clock is the test's, so five minutes pass in a moment.
  const bob = await accountInRoom(browser, baseURL!, room, "Bob", {
    prepare: (context) => context.clock.install(),
  });
  await expect(people(ada.page).locator("summary")).toHaveText("2 people here");
  const bobThere = people(ada.page).locator(`li[data-username="${bob.username}"]`);
  await expect(bobThere).toHaveCount(1);
  await expect(bobThere).not.toHaveClass(/away/);

  // A second tab of Bob's is still one Bob.
  const bobAgain = await bob.context.newPage();
  await bobAgain.goto(`/chat/${room}/`);
  await expect(bobAgain.getByRole("status")).toHaveAttribute("data-state", "live");
  await expect(people(bobAgain).locator("summary")).toHaveText("2 people here");
  await bobAgain.close();

  // Five minutes without input on Bob's side: away, for Ada; back at his next key.
  await bob.page.clock.fastForward("05:30");
  await expect(bobThere).toHaveClass(/away/);
  await expect(bobThere).toContainText("(away)");
  await composer(bob.page).press("a");
  await expect(bobThere).not.toHaveClass(/away/);

  await bob.page.close();
  await expect(people(ada.page).locator("summary")).toHaveText("1 person here");
  await expect(bobThere).toHaveCount(0);
});

test("typing shows while someone types and goes when their message arrives or they stop", async ({
  browser,
  baseURL,
}) => {
  const room = "presence-typing";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  const bob = await accountInRoom(browser, baseURL!, room, "Bob");
  const cy = await accountInRoom(browser, baseURL!, room, "Cy");

  await composer(bob.page).pressSequentially("on my");
  await expect(typingLine(ada.page)).toHaveText("Bob is typing…");
  // Nobody is told of their own typing.
  await expect(typingLine(bob.page)).toHaveText("");
  await composer(cy.page).pressSequentially("me too");
  await expect(typingLine(ada.page)).toHaveText("Bob and Cy are typing…");

  // Bob sends: his notice goes at once, Cy's stays.
  await composer(bob.page).pressSequentially(" way");
  await composer(bob.page).press("Enter");
  await expect(ada.page.getByRole("log", { name: "Messages" })).toContainText("on my way");
  await expect(typingLine(ada.page)).toHaveText("Cy is typing…");
  // Cy stops: gone within six seconds of the last notice.
  await expect(typingLine(ada.page)).toHaveText("", { timeout: 10_000 });
});
