import { test, expect, accountInRoom, hydrated, postOverSocket, signUpViaApi, uniqueUsername, PASSWORD } from "./fixtures";
import type { BrowserContext, CDPSession, Page } from "@playwright/test";
import * as crypto from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Web Push end to end, with this test as the push service. Chromium here has
 * no push service of its own (`pushManager.subscribe` fails without Google's),
 * so the page's subscribe is given this test's keys and endpoint; all the rest
 * is real: the page registers the service worker and hands the subscription to
 * the server, the server encrypts and signs each push and posts it here, this
 * test decrypts it (RFC 8291, independently of the server's code) and delivers
 * the plaintext to the service worker through the DevTools protocol, as a
 * browser's push service would, and the worker shows the notification.
 */

/** RFC 8291 / RFC 8188 aes128gcm, the receiving side. */
function decrypt(body: Buffer, browser: crypto.ECDH, auth: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const serverKey = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  const info = Buffer.concat([Buffer.from("WebPush: info\0"), browser.getPublicKey(), serverKey]);
  const ikm = Buffer.from(crypto.hkdfSync("sha256", browser.computeSecret(serverKey), auth, info, 32));
  const cek = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = crypto.createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (plain[end] !== 2) throw new Error("not the last record");
  return plain.subarray(0, end).toString("utf8");
}

type Pushed = { headers: http.IncomingHttpHeaders; plain: string };

/** A push service on an ephemeral port; each push is decrypted with `browser`'s keys. */
async function pushService(browser: crypto.ECDH, auth: Buffer, onPush: (pushed: Pushed) => void) {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      try {
        onPush({ headers: request.headers, plain: decrypt(Buffer.concat(chunks), browser, auth) });
        response.writeHead(201).end();
      } catch (error) {
        console.log("push service: unreadable push", error);
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push/ada-laptop` };
}

/** The page's pushManager answers with this test's subscription. */
async function givePushSubscription(context: BrowserContext, endpoint: string, p256dh: string, auth: string) {
  await context.grantPermissions(["notifications"]);
  await context.addInitScript(
    ({ endpoint, p256dh, auth }) => {
      const subscription = {
        endpoint,
        expirationTime: null,
        options: { userVisibleOnly: true },
        toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
        unsubscribe: async () => true,
        getKey: () => null,
      };
      let subscribed = false;
      PushManager.prototype.subscribe = async function () {
        subscribed = true;
        return subscription as unknown as PushSubscription;
      };
      PushManager.prototype.getSubscription = async function () {
        return (subscribed ? subscription : null) as unknown as PushSubscription;
      };
      // What the service worker tells its pages.
      (window as any).__pushed = [];
      navigator.serviceWorker?.addEventListener("message", (event) => (window as any).__pushed.push(event.data));
    },
    { endpoint, p256dh, auth },
  );
}

async function workerRegistration(cdp: CDPSession, origin: string): Promise<string> {
  return new Promise((resolve) => {
    cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
      const ours = registrations.find((r: any) => r.scopeURL === `${origin}/` && !r.isDeleted);
      if (ours) resolve(ours.registrationId);
    });
  });
}

test("with no chat tab open, a mention is pushed: the server encrypts it for the browser, the service worker shows it", async ({
  browser,
  baseURL,
}) => {
  const keys = crypto.createECDH("prime256v1");
  keys.generateKeys();
  const auth = crypto.randomBytes(16);
  const pushes: Pushed[] = [];
  const service = await pushService(keys, auth, (pushed) => pushes.push(pushed));
  try {
    const room = "push-lounge";
    let cdp: CDPSession | undefined;
    let registration: Promise<string> | undefined;
    const ada = await accountInRoom(browser, baseURL!, room, "Ada", {
      prepare: async (context) => {
        await givePushSubscription(
          context,
          service.endpoint,
          keys.getPublicKey().toString("base64url"),
          auth.toString("base64url"),
        );
      },
    });
    cdp = await ada.context.newCDPSession(ada.page);
    registration = workerRegistration(cdp, new URL(baseURL!).origin);
    await cdp.send("ServiceWorker.enable");
    await ada.page.getByRole("button", { name: "Join", exact: true }).click();
    // Permission granted: the page subscribed this browser and told the server.
    await expect(ada.page.locator("body[data-push=subscribed]")).toHaveCount(1);

    // A page opened later finds the same subscription handed over already: it
    // does not hand it over again.
    const handedOver: string[] = [];
    ada.page.on("request", (request) => {
      if (request.url().includes("/api/push-subscribe")) handedOver.push(request.url());
    });
    await ada.page.reload();
    await expect(ada.page.locator("body[data-push=subscribed]")).toHaveCount(1);
    expect(handedOver).toEqual([]);

    // Ada leaves the room for the lobby: no connection of hers is open now.
    await ada.page.goto("/chat/");
    await hydrated(ada.page);

    const bob = await signUpViaApi(baseURL!, uniqueUsername("bob"), "Bob", PASSWORD);
    await postOverSocket(baseURL!, bob, room, [{ id: crypto.randomUUID(), body: `@${ada.username} the build is green` }]);
    await expect.poll(() => pushes.length).toBe(1);
    const [push] = pushes;
    expect(push.headers["content-encoding"]).toBe("aes128gcm");
    expect(String(push.headers["authorization"])).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]{87}$/);
    const data = JSON.parse(push.plain);
    console.log("pushed:", push.plain);
    expect(data).toEqual({
      title: `Bob mentioned you in #${room}`,
      body: `@${ada.username} the build is green`,
      url: `/chat/${room}/#m1`,
      tag: `room:${room}`,
    });

    // As a push service would: the plaintext to the browser's service worker.
    await cdp.send("ServiceWorker.deliverPushMessage", {
      origin: new URL(baseURL!).origin,
      registrationId: await registration,
      data: push.plain,
    });
    await expect.poll(() => ada.page.evaluate(() => (window as any).__pushed.length)).toBe(1);
    expect(await ada.page.evaluate(() => (window as any).__pushed[0].pushed)).toEqual(data);
    const shown = () =>
      ada.page.evaluate(async () =>
        (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({
          title: n.title,
          body: n.body,
          url: n.data?.url,
        })),
      );
    await expect
      .poll(shown)
      .toContainEqual({ title: data.title, body: data.body, url: `${new URL(baseURL!).origin}${data.url}` });
    console.log("the service worker shows:", JSON.stringify(await shown()));
  } finally {
    service.server.close();
  }
});
