import { test, expect, accountInRoom, hydrated } from "./fixtures";
import { ChatServer } from "./server";

test("the admin page deactivates an account, whose open page then signs out", async ({ browser }) => {
  // A server of its own: the first account made on it is its administrator.
  const server = await ChatServer.start();
  try {
    const ada = await accountInRoom(browser, server.url, "staff-room", "Ada");
    const bob = await accountInRoom(browser, server.url, "staff-room", "Bob");

    await ada.page.goto("/admin");
    await hydrated(ada.page);
    await ada.page.getByLabel("Username").fill(bob.username);
    await ada.page.getByRole("button", { name: "Deactivate" }).click();
    await expect(ada.page.getByRole("status")).toContainText(`${bob.username} is deactivated`);
    // The accounts table says so too (it is read again after the action).
    await expect(ada.page.locator(`[data-account="${bob.username}"]`)).toContainText("deactivated");

    // Bob's page, open all along, signs out by itself: a reader's view now.
    await expect(bob.page.getByText("Sign in to post in this room.")).toBeVisible();
    // Reloading does not sign him back in: his session is gone.
    await bob.page.reload();
    await expect(bob.page.getByText("Sign in to post in this room.")).toBeVisible();
  } finally {
    await server.dispose();
  }
});
