// The README's pictures, taken from a real run: a room with the room list
// beside it (unread and mention counts), and a direct conversation. They are
// assertions too: what the pictures show must be there. With SCREENSHOT_DIR
// set (./scripts/screenshots.sh), they are written where the README finds them.
import { test, expect, accountInRoom, postOverSocket, signUpViaApi, uniqueUsername, PASSWORD, send, log } from "./fixtures";
import path from "node:path";

const out = process.env.SCREENSHOT_DIR;

test("the room list and a direct conversation, as the README shows them", async ({ browser, baseURL }) => {
  const contextOptions = { viewport: { width: 1100, height: 640 } };
  const ada = await accountInRoom(browser, baseURL!, "design", "Ada Lovelace", { contextOptions });
  await ada.page.getByRole("button", { name: "Join", exact: true }).click();
  const bobName = uniqueUsername("bob");
  const bob = await signUpViaApi(baseURL!, bobName, "Bob Kahn", PASSWORD);
  const grace = await signUpViaApi(baseURL!, uniqueUsername("grace"), "Grace Hopper", PASSWORD);
  for (const room of ["releases", "support"]) {
    await ada.page.goto(`/chat/${room}/`);
    await ada.page.getByRole("button", { name: "Join", exact: true }).click();
    await expect(ada.page.locator(`li[data-room="${room}"]`)).toBeVisible();
  }
  await ada.page.goto("/chat/design/");
  await expect(ada.page.getByRole("status")).toHaveAttribute("data-state", "live");
  await postOverSocket(baseURL!, bob, "design", [
    { id: crypto.randomUUID(), body: "Morning! The **new layout** is up on staging." },
    { id: crypto.randomUUID(), body: "Room list on the left, counts that clear everywhere at once." },
  ]);
  await send(ada.page, "Looks great. Does the drawer work on a phone?");
  await postOverSocket(baseURL!, grace, "releases", [
    { id: crypto.randomUUID(), body: "0.4 is tagged." },
    { id: crypto.randomUUID(), body: `@${ada.username} can you write the notes?` },
  ]);
  await postOverSocket(baseURL!, bob, "support", [{ id: crypto.randomUUID(), body: "A question about exports" }]);
  const releases = ada.page.locator('li[data-room="releases"]');
  await expect(releases.locator(".unread-count")).toHaveText("2");
  await expect(releases.locator(".mentions")).toHaveAttribute("data-mentions", "1");
  await expect(log(ada.page)).toContainText("Does the drawer work");
  if (out) await ada.page.screenshot({ path: path.join(out, "room-list.png") });

  // A direct conversation with Bob.
  await ada.page.goto(`/chat/@${bobName}/`);
  await expect(ada.page.getByRole("status")).toHaveAttribute("data-state", "live");
  await send(ada.page, "Can we pair on the migration tomorrow?");
  const dm = ada.page.getByRole("list", { name: "Direct messages" }).locator("li").first();
  const key = await dm.getAttribute("data-room");
  await postOverSocket(baseURL!, bob, key!, [{ id: crypto.randomUUID(), body: "Sure, 10:00 works for me." }]);
  await expect(log(ada.page)).toContainText("10:00 works");
  await expect(ada.page.getByRole("heading", { level: 1 })).toHaveText("@Bob Kahn");
  if (out) await ada.page.screenshot({ path: path.join(out, "direct-message.png") });
});
