import {
  test,
  expect,
  accountInRoom,
  connection,
  hydrated,
  log,
  postOverSocket,
  signUpViaApi,
  uniqueUsername,
  PASSWORD,
} from "./fixtures";
import type { BrowserContext, Page } from "@playwright/test";

/** What a page asked the browser to show: recorded by a spy around the real API. */
type Shown = { title: string; body?: string; tag?: string };

/**
 * Grants notifications, records every one the page shows (still calling the
 * real API) and every frame its sockets receive, and lets the test hide the
 * page as a tab in the background is.
 */
async function watchNotifications(context: BrowserContext): Promise<void> {
  await context.grantPermissions(["notifications"]);
  await context.addInitScript(() => {
    const w = window as any;
    w.__shown = [];
    const Real = window.Notification;
    class Recorded extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        w.__shown.push({ title, body: options?.body, tag: options?.tag });
        w.__last = this;
      }
    }
    w.Notification = Recorded;
    let hidden = false;
    Object.defineProperty(document, "hidden", { get: () => hidden, configurable: true });
    Object.defineProperty(document, "visibilityState", {
      get: () => (hidden ? "hidden" : "visible"),
      configurable: true,
    });
    // Every frame the page's sockets receive, to wait for the server's word.
    w.__frames = [];
    const RealSocket = window.WebSocket;
    w.WebSocket = class extends RealSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener("message", (event) => w.__frames.push(String(event.data)));
      }
    };
    w.__setHidden = (value: boolean) => {
      hidden = value;
      document.dispatchEvent(new Event("visibilitychange"));
    };
  });
}

async function shown(page: Page): Promise<Shown[]> {
  return page.evaluate(() => (window as any).__shown as Shown[]);
}

async function hide(page: Page): Promise<void> {
  await page.evaluate(() => (window as any).__setHidden(true));
}

function notifyChoice(page: Page) {
  return page.getByLabel("Notify me of");
}

/** Picks a level in the room header and waits until the server confirms it. */
async function chooseLevel(page: Page, level: string): Promise<void> {
  const heard = () => page.evaluate(() => (window as any).__frames.length as number);
  const from = await heard();
  await notifyChoice(page).selectOption(level);
  await expect
    .poll(() =>
      page.evaluate(
        ([from, level]) =>
          ((window as any).__frames as string[])
            .slice(from as number)
            .some((f) => f.includes(`{"room_notify":`) && f.includes(`"notify":"${level}"`)),
        [from, level],
      ),
    )
    .toBe(true);
}

test("a mention in another room shows a notification in a hidden page; clicking it opens the room at the message", async ({
  browser,
  baseURL,
}) => {
  const other = "notify-elsewhere";
  const here = "notify-here";
  const ada = await accountInRoom(browser, baseURL!, other, "Ada", { prepare: watchNotifications });
  await ada.page.getByRole("button", { name: "Join", exact: true }).click();
  await expect(notifyChoice(ada.page)).toHaveValue("mentions");
  // Granted already: nothing to ask.
  await expect(ada.page.getByRole("button", { name: "Turn on notifications" })).toHaveCount(0);

  await ada.page.goto(`/chat/${here}/`);
  await hydrated(ada.page);
  await expect(connection(ada.page)).toHaveAttribute("data-state", "live");
  await hide(ada.page);

  const bob = await signUpViaApi(baseURL!, uniqueUsername("bob"), "Bob", PASSWORD);
  await postOverSocket(baseURL!, bob, other, [{ id: crypto.randomUUID(), body: "nothing for Ada here" }]);
  await expect(ada.page.locator(`li[data-room="${other}"] .unread-count`)).toHaveText("1");
  await postOverSocket(baseURL!, bob, other, [{ id: crypto.randomUUID(), body: `@${ada.username} look at this` }]);

  // Mentions only (a room's default): the mention, not the message before it.
  await expect.poll(() => shown(ada.page)).toHaveLength(1);
  const [notice] = await shown(ada.page);
  console.log("the hidden page showed:", JSON.stringify(notice));
  expect(notice.title).toBe(`Bob mentioned you in #${other}`);
  expect(notice.body).toBe(`@${ada.username} look at this`);

  // A click brings the room forward at that message.
  await ada.page.evaluate(() => (window as any).__last.onclick());
  await expect(ada.page).toHaveURL(new RegExp(`/chat/${other}/#m2$`));
  await hydrated(ada.page);
  const message = log(ada.page).locator("#m2");
  await expect(message).toContainText("look at this");
  await expect(message).toBeInViewport();
});

test("the room's level decides: nothing stays silent, all messages notifies of every one; the choice is kept", async ({
  browser,
  baseURL,
}) => {
  const room = "notify-levels";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada", { prepare: watchNotifications });
  await ada.page.getByRole("button", { name: "Join", exact: true }).click();
  await chooseLevel(ada.page, "nothing");
  await expect(ada.page.locator(`li[data-room="${room}"]`)).toHaveClass(/muted/);
  await hide(ada.page);

  const bob = await signUpViaApi(baseURL!, uniqueUsername("bob"), "Bob", PASSWORD);
  await postOverSocket(baseURL!, bob, room, [{ id: crypto.randomUUID(), body: `@${ada.username} are you there?` }]);
  await expect(log(ada.page)).toContainText("are you there?");
  expect(await shown(ada.page)).toHaveLength(0);

  // Kept on the server: a fresh page has it.
  await ada.page.reload();
  await hydrated(ada.page);
  await expect(notifyChoice(ada.page)).toHaveValue("nothing");
  await chooseLevel(ada.page, "all");
  await expect(connection(ada.page)).toHaveAttribute("data-state", "live");
  await ada.page.reload();
  await hydrated(ada.page);
  await expect(notifyChoice(ada.page)).toHaveValue("all");
  await expect(connection(ada.page)).toHaveAttribute("data-state", "live");
  await hide(ada.page);

  await postOverSocket(baseURL!, bob, room, [{ id: crypto.randomUUID(), body: "lunch is ready" }]);
  await expect.poll(() => shown(ada.page)).toHaveLength(1);
  const [notice] = await shown(ada.page);
  console.log("the hidden page showed:", JSON.stringify(notice));
  expect(notice).toMatchObject({ title: `Bob in #${room}`, body: "lunch is ready" });
});

test("a signed-in person is offered notifications until they answer", async ({ browser, baseURL }) => {
  const ada = await accountInRoom(browser, baseURL!, "notify-ask", "Ada");
  await expect(ada.page.getByRole("button", { name: "Turn on notifications" })).toBeVisible();
});
