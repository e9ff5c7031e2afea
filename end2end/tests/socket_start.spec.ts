import type { Page, Route, WebSocket as PageSocket } from "@playwright/test";
import {
  test,
  expect,
  newContext,
  hydrated,
  connection,
  log,
  send,
  signUpViaApi,
  postOverSocket,
  uniqueUsername,
  PASSWORD,
} from "./fixtures";

/** Holds the page's WebAssembly until `release` is called. */
async function holdWasm(page: Page): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/pkg/*.wasm", async (route: Route) => {
    await released;
    await route.continue();
  });
  return release;
}

/** Every WebSocket the page opens, with the frames it sent and received. */
function watchSockets(page: Page) {
  const sockets: { socket: PageSocket; sent: string[]; received: string[] }[] = [];
  page.on("websocket", (socket) => {
    const seen = { socket, sent: [] as string[], received: [] as string[] };
    sockets.push(seen);
    socket.on("framesent", ({ payload }) => seen.sent.push(String(payload)));
    socket.on("framereceived", ({ payload }) => seen.received.push(String(payload)));
  });
  return sockets;
}

test("a room page joins before its WebAssembly arrives, and what came meanwhile shows once", async ({
  browser,
  baseURL,
}) => {
  const room = "early-socket";
  const cookie = await signUpViaApi(baseURL!, uniqueUsername("Ear"), "Ear", PASSWORD);
  const other = await signUpViaApi(baseURL!, uniqueUsername("Oth"), "Oth", PASSWORD);
  await postOverSocket(baseURL!, other, room, [{ id: "early-0", body: "before the page" }]);

  const context = await newContext(browser, { baseURL });
  const [name, value] = [cookie.slice(0, cookie.indexOf("=")), cookie.slice(cookie.indexOf("=") + 1)];
  await context.addCookies([{ name, value, url: baseURL! }]);
  const page = await context.newPage();
  const sockets = watchSockets(page);
  const release = await holdWasm(page);
  await page.goto(`/chat/${room}/`);

  // The page's script opened the socket and joined, resuming after the message
  // the server rendered; the server welcomed it. No WebAssembly yet.
  await expect.poll(() => sockets[0]?.received.some((f) => f.startsWith('{"welcome"'))).toBe(true);
  expect(sockets[0].socket.url()).toMatch(new RegExp(`/ws/chat/${room}$`));
  const join = JSON.parse(sockets[0].sent[0]);
  expect(join.type).toBe("join");
  expect(join.since).toBeGreaterThan(0);
  await expect(page.locator("body[data-hydrated]")).toHaveCount(0);

  // A message posted meanwhile reaches that socket before the page can show it.
  await postOverSocket(baseURL!, other, room, [{ id: "early-1", body: "while the page loads" }]);
  await expect.poll(() => sockets[0].received.some((f) => f.includes("while the page loads"))).toBe(true);

  release();
  await hydrated(page);
  await expect(connection(page)).toHaveAttribute("data-state", "live");
  await expect(log(page).getByText("while the page loads")).toHaveCount(1);
  await expect(log(page).getByText("before the page")).toHaveCount(1);

  // The page took that socket over: it posts on it, and hears the room on it.
  await send(page, "from the page");
  await expect(log(page).getByText("from the page")).toHaveCount(1);
  await expect.poll(() => sockets[0].sent.some((f) => f.includes("from the page"))).toBe(true);
  await postOverSocket(baseURL!, other, room, [{ id: "early-2", body: "after the takeover" }]);
  await expect(log(page).getByText("after the takeover")).toHaveCount(1);
  await expect(log(page).getByText("while the page loads")).toHaveCount(1);
  expect(sockets.length).toBe(1);
  expect(sockets[0].sent.filter((f) => JSON.parse(f).type === "join")).toHaveLength(1);
});

test("a page whose early socket closed before the WebAssembly came joins afresh and misses nothing", async ({
  browser,
  baseURL,
}) => {
  const room = "early-socket-lost";
  const other = await signUpViaApi(baseURL!, uniqueUsername("Los"), "Los", PASSWORD);
  await postOverSocket(baseURL!, other, room, [{ id: "lost-0", body: "already there" }]);

  const context = await newContext(browser, { baseURL });
  const page = await context.newPage();
  const sockets = watchSockets(page);
  const release = await holdWasm(page);
  await page.goto(`/chat/${room}/`);
  await expect.poll(() => sockets[0]?.received.some((f) => f.startsWith('{"welcome"'))).toBe(true);

  // The early socket goes (as if the network dropped it); a message is posted
  // before the WebAssembly arrives.
  await page.evaluate(() => new Promise<void>((resolve) => {
    // The socket is the script's own; reach it through the hand-over, as the
    // WebAssembly would, and close it.
    const taken = (window as any).chatEarlySocket(
      document.querySelector<HTMLElement>("[data-join]")!.dataset.socket,
      document.querySelector<HTMLElement>("[data-join]")!.dataset.join,
    );
    const socket: WebSocket = taken[0];
    socket.onclose = () => resolve();
    socket.close();
  }));
  await postOverSocket(baseURL!, other, room, [{ id: "lost-1", body: "posted in between" }]);

  release();
  await hydrated(page);
  await expect(connection(page)).toHaveAttribute("data-state", "live");
  await expect(log(page).getByText("posted in between")).toHaveCount(1);
  await expect(log(page).getByText("already there")).toHaveCount(1);
  expect(sockets.length).toBe(2);
  const rejoin = JSON.parse(sockets[1].sent[0]);
  expect(rejoin.type).toBe("join");
  expect(rejoin.since).toBe(JSON.parse(sockets[0].sent[0]).since);
});

test("a page whose WebAssembly comes before the early socket has opened takes that socket over as it is", async ({
  browser,
  baseURL,
}) => {
  const room = "early-socket-slow";
  const other = await signUpViaApi(baseURL!, uniqueUsername("Slo"), "Slo", PASSWORD);
  const context = await newContext(browser, { baseURL });
  // The socket's handshake waits until the page has hydrated (as on a slow
  // link with the WebAssembly in the browser's cache).
  let open!: () => void;
  const opening = new Promise<void>((resolve) => (open = resolve));
  let routed = 0;
  await context.routeWebSocket(/\/ws\/chat\//, async (ws) => {
    routed += 1;
    await opening;
    ws.connectToServer();
  });
  const page = await context.newPage();
  const sockets = watchSockets(page);
  await page.goto(`/chat/${room}/`);
  await hydrated(page);
  expect(routed).toBe(1);
  await expect(connection(page)).not.toHaveAttribute("data-state", "live");

  open();
  await expect(connection(page)).toHaveAttribute("data-state", "live");
  await postOverSocket(baseURL!, other, room, [{ id: "slow-1", body: "heard on the first socket" }]);
  await expect(log(page).getByText("heard on the first socket")).toHaveCount(1);
  expect(routed).toBe(1);
  expect(sockets.length).toBe(1);
  expect(sockets[0].sent.filter((f) => JSON.parse(f).type === "join")).toHaveLength(1);
});
