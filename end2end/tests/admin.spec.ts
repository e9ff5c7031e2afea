import { test, expect, accountInRoom, hydrated, log, send } from "./fixtures";
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

test("the admin page lists a room with its members and messages and deletes it for its open pages", async ({ browser }) => {
  // A server of its own: the first account made on it is its administrator.
  const server = await ChatServer.start();
  try {
    const ada = await accountInRoom(browser, server.url, "ada-notes", "Ada");
    const bob = await accountInRoom(browser, server.url, "doomed-room", "Bob");
    await send(bob.page, "first words");
    await send(bob.page, "second words");

    const admin = await ada.context.newPage();
    await admin.goto("/admin");
    await hydrated(admin);
    const row = admin.locator('[data-room="doomed-room"]');
    await expect(row).toContainText(bob.username);
    await expect(row.locator("td.number")).toHaveText(["1", "2"]);
    await expect(admin.locator(`[data-account="${bob.username}"]`)).toContainText("active");

    await admin.getByLabel("Room", { exact: true }).fill("doomed-room");
    await admin.getByRole("button", { name: "Delete room" }).click();
    await expect(admin.getByRole("status")).toContainText("#doomed-room is deleted: 2 messages, out of 1 lists.");
    await expect(row.locator("td.number")).toHaveText(["0", "0"]);
    await expect(admin.locator(".moderation-log")).toContainText("deleted the room");

    // Bob's open page sees both messages go.
    await expect(log(bob.page).getByText("first words")).toHaveCount(0);
    await expect(log(bob.page).getByText("second words")).toHaveCount(0);
  } finally {
    await server.dispose();
  }
});
