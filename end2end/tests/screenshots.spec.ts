// The README's pictures, taken from a real run: a room with the room list
// beside it (unread and mention counts), a direct conversation, and a browser
// notification (on a real screen: ./scripts/screenshots.sh). They are
// assertions too: what the pictures show must be there. With SCREENSHOT_DIR
// set (./scripts/screenshots.sh), they are written where the README finds them.
import {
  test,
  expect,
  accountInRoom,
  hydrated,
  postOverSocket,
  signUpThroughPage,
  signUpViaApi,
  uniqueUsername,
  PASSWORD,
  send,
  log,
} from "./fixtures";
import { chromium } from "@playwright/test";
import { execFileSync } from "node:child_process";
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

test("a browser notification, as the README shows it", async ({ baseURL }) => {
  // A real notification needs a real screen: Xvfb, a D-Bus session and a
  // notification daemon, which ./scripts/screenshots.sh starts.
  test.skip(!out || !process.env.DISPLAY, "only with SCREENSHOT_DIR and an X display (./scripts/screenshots.sh)");
  const launchOptions = test.info().project.use.launchOptions ?? {};
  const headful = await chromium.launch({ ...launchOptions, headless: false });
  try {
    const context = await headful.newContext({ viewport: { width: 1000, height: 560 }, baseURL });
    await context.grantPermissions(["notifications"]);
    // The tab counts as in the background (the window has no other tab here),
    // and every notification it shows is noted.
    await context.addInitScript(() => {
      const w = window as any;
      w.__shown = 0;
      const Real = window.Notification;
      w.Notification = class extends Real {
        constructor(title: string, options?: NotificationOptions) {
          super(title, options);
          w.__shown += 1;
        }
      };
      Object.defineProperty(document, "hidden", { get: () => w.__hidden === true, configurable: true });
    });
    const page = await context.newPage();
    const ada = { username: uniqueUsername("ada"), displayName: "Ada Lovelace", password: PASSWORD };
    await signUpThroughPage(page, ada, { next: "/chat/releases/" });
    await hydrated(page);
    await page.getByRole("button", { name: "Join", exact: true }).click();
    await page.goto("/chat/design/");
    await hydrated(page);
    await expect(page.getByRole("status")).toHaveAttribute("data-state", "live");
    await page.evaluate(() => ((window as any).__hidden = true));
    const grace = await signUpViaApi(baseURL!, uniqueUsername("grace"), "Grace Hopper", PASSWORD);
    await postOverSocket(baseURL!, grace, "releases", [
      { id: crypto.randomUUID(), body: `@${ada.username} 0.4 is tagged: can you write the release notes?` },
    ]);
    await expect.poll(() => page.evaluate(() => (window as any).__shown)).toBe(1);
    // The daemon draws the popup on its own time: take the screen once it has.
    const shot = path.join(out!, "notification.png");
    await expect
      .poll(() => {
        execFileSync("sh", ["-c", `xwd -root -silent | convert xwd:- "${shot}"`]);
        // The corner right of the window is bare screen until the popup is drawn there.
        const corner = ["-crop", "280x50+1100+25", "-format", "%[fx:standard_deviation]", "info:"];
        return execFileSync("convert", [shot, ...corner]).toString();
      })
      .not.toBe("0");
    // The screen below the window is bare.
    execFileSync("convert", [shot, "-crop", "1400x665+0+0", "+repage", shot]);
  } finally {
    await headful.close();
  }
});
