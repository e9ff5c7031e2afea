import { test as base, expect, Browser, BrowserContext, Page } from "@playwright/test";
import WebSocket from "ws";
import { once } from "node:events";
import { ChatServer } from "./server";

type WorkerFixtures = { server: ChatServer };
type TestFixtures = { closeContexts: void };

/** Contexts opened through [`newContext`] during the current test. */
const openContexts = new Set<BrowserContext>();

export const test = base.extend<TestFixtures, WorkerFixtures>({
  // Closes, after each test, the contexts the helpers opened: their pages hold
  // WebSockets, and the server caps those per address.
  closeContexts: [
    async ({}, use) => {
      await use();
      const contexts = [...openContexts];
      openContexts.clear();
      await Promise.all(contexts.map((context) => context.close().catch(() => {})));
    },
    { auto: true },
  ],
  server: [
    async ({}, use) => {
      const server = await ChatServer.start();
      await use(server);
      await server.dispose();
    },
    { scope: "worker" },
  ],
  baseURL: async ({ server }, use) => use(server.url),
});

export { expect };

/** The one password every test account gets: long enough, never a username. */
export const PASSWORD = "correct-horse-battery-staple";

/** The WebSocket protocol version the server speaks. */
export const PROTOCOL_VERSION = 12;

/** The codes of the account errors the pages show (`data-code` on the alert). */
export const ERRORS = {
  usernameTaken: "username_taken",
  noMatch: "mismatch",
  weakPassword: "weak_password",
  tooManyAttempts: "too_many_attempts",
};

export const SIGN_IN_PROMPT = "Sign in to post in this room.";

/** A browser context of its own (own cookies, own connections), closed after the test. */
export async function newContext(
  browser: Browser,
  options: Parameters<Browser["newContext"]>[0] = {},
): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  openContexts.add(context);
  return context;
}

/** Waits until the page's WASM has hydrated it. */
export async function hydrated(page: Page): Promise<void> {
  await page.locator("body[data-hydrated]").waitFor();
}

let accounts = 0;

/**
 * A username no other test has taken: derived from `name`, within the rule
 * (3–32 characters of a-z 0-9 - _).
 */
export function uniqueUsername(name: string): string {
  const stem =
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 14) || "user";
  const random = Math.random().toString(36).slice(2, 8).padEnd(6, "0");
  return `${stem}-${++accounts}-${random}`.slice(0, 32);
}

export type Credentials = { username: string; displayName: string; password: string };

/**
 * Fills in and submits the sign-up page. With `js` (the default) it first waits
 * for hydration, so errors come back inline; without, the form posts plainly.
 */
export async function signUpThroughPage(
  page: Page,
  { username, displayName, password }: Credentials,
  { next, js = true }: { next?: string; js?: boolean } = {},
): Promise<void> {
  await page.goto(next ? `/account/sign-up?next=${encodeURIComponent(next)}` : "/account/sign-up");
  if (js) await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name").fill(displayName);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
}

/** Fills in and submits the sign-in page (see [`signUpThroughPage`]). */
export async function signInThroughPage(
  page: Page,
  { username, password }: { username: string; password: string },
  { next, js = true }: { next?: string; js?: boolean } = {},
): Promise<void> {
  await page.goto(next ? `/account/sign-in?next=${encodeURIComponent(next)}` : "/account/sign-in");
  if (js) await hydrated(page);
  await fillSignIn(page, { username, password });
}

/** Fills in and submits the sign-in form of the page that is open. */
export async function fillSignIn(page: Page, { username, password }: { username: string; password: string }) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

export type Person = Credentials & { page: Page; context: BrowserContext };

/**
 * A person with a fresh account, in their own browser context (own cookies, own
 * connection): signed up through the sign-up page, landed in `room`, hydrated and
 * live. `prepare` runs on the context before its first page exists.
 */
export async function accountInRoom(
  browser: Browser,
  baseURL: string,
  room: string,
  name: string,
  {
    prepare,
    contextOptions = {},
  }: {
    prepare?: (context: BrowserContext) => Promise<void> | void;
    contextOptions?: Parameters<Browser["newContext"]>[0];
  } = {},
): Promise<Person> {
  const context = await newContext(browser, { ...contextOptions, baseURL });
  await prepare?.(context);
  const page = await context.newPage();
  const credentials = { username: uniqueUsername(name), displayName: name, password: PASSWORD };
  await signUpThroughPage(page, credentials, { next: `/chat/${room}/` });
  await expect(page).toHaveURL(roomURL(room));
  await hydrated(page);
  await expect(accountNav(page)).toContainText(`Signed in as ${name}`);
  await expect(connection(page)).toHaveAttribute("data-state", "live");
  return { ...credentials, page, context };
}

/** [`accountInRoom`], for tests that only need the page. */
export async function personInRoom(
  browser: Browser,
  baseURL: string,
  room: string,
  name: string,
): Promise<Page> {
  return (await accountInRoom(browser, baseURL, room, name)).page;
}

/** The address of a room, as a pattern (any origin, any query). */
export function roomURL(room: string): RegExp {
  return new RegExp(`/chat/${room}/(\\?.*)?$`);
}

export function connection(page: Page) {
  return page.getByRole("status");
}

export function log(page: Page) {
  return page.getByRole("log", { name: "Messages" });
}

export function composer(page: Page) {
  return page.getByRole("textbox", { name: "Message" });
}

export function accountNav(page: Page) {
  return page.getByRole("navigation", { name: "Account" });
}

/** The part of a room page that, signed out, stands where the composer would be. */
export function signInPrompt(page: Page) {
  // The innermost element holding both the prompt's text and its links.
  return page
    .locator("body *")
    .filter({ hasText: SIGN_IN_PROMPT })
    .filter({ has: page.getByRole("link", { name: "Create account", exact: true }) })
    .last();
}

export async function send(page: Page, text: string): Promise<void> {
  const box = composer(page);
  await box.fill(text);
  await box.press("Enter");
  await expect(box).toHaveValue("");
}

// ---- Node-side setup: plain HTTP and WebSocket clients, no browser. ----

/** Posts a form to one of the server's endpoints the way a script-less browser does. */
export async function postForm(
  baseURL: string,
  path: string,
  fields: Record<string, string>,
  cookie?: string,
): Promise<Response> {
  const origin = new URL(baseURL).origin;
  return fetch(new URL(path, origin), {
    method: "POST",
    redirect: "manual",
    headers: {
      Accept: "text/html",
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: origin,
      ...(cookie ? { Cookie: cookie } : {}),
    },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The `chat_session=…` pair a response sets, if it sets one with a value. */
export function sessionCookieOf(response: Response): string | undefined {
  return response.headers
    .getSetCookie()
    .map((header) => header.split(";")[0].trim())
    .find((pair) => pair.startsWith("chat_session=") && pair.length > "chat_session=".length);
}

/**
 * Creates an account through `POST /api/sign-up`, without a browser; returns
 * the `chat_session=…` cookie pair to send as a `Cookie` header.
 */
export async function signUpViaApi(
  baseURL: string,
  username: string,
  displayName: string,
  password: string,
): Promise<string> {
  const response = await postForm(baseURL, "/api/sign-up", {
    username,
    display_name: displayName,
    password,
    next: "/chat/",
  });
  const cookie = sessionCookieOf(response);
  if (response.status < 300 || response.status > 399 || !cookie) {
    throw new Error(
      `sign-up of ${username} did not give a session: ${response.status} ` +
        `Location: ${response.headers.get("location")} Set-Cookie: ${response.headers.getSetCookie()}`,
    );
  }
  return cookie;
}

/** A server frame, loosely typed: `type` plus whatever it carries. */
export type ServerFrame = { type: string; [field: string]: any };

/**
 * A server frame as the tests read it, `{ type, ...fields }`: on the wire it is
 * `{"<type>": {fields}}`, or `"<type>"` for a kind without data.
 */
function serverFrame(wire: unknown): ServerFrame {
  if (typeof wire === "string") return { type: wire };
  const [type, fields] = Object.entries(wire as Record<string, unknown>)[0];
  return { type, ...(fields as Record<string, unknown>) };
}

/** A WebSocket to a room from node, as a non-browser client (or a browser, with `Origin`). */
export class RoomSocket {
  readonly frames: ServerFrame[] = [];
  private closed: Error | null = null;
  private waiters: (() => void)[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.frames.push(serverFrame(JSON.parse(data.toString())));
      this.wakeAll();
    });
    ws.on("close", (code, reason) => {
      this.closed = new Error(`the socket closed (${code} ${reason.toString()})`);
      this.wakeAll();
    });
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Opens `/ws/chat/<room>` with the site's own `Origin` and, if given, the session cookie. */
  static async open(baseURL: string, room: string, cookie?: string): Promise<RoomSocket> {
    const origin = new URL(baseURL).origin;
    const ws = new WebSocket(`${origin.replace(/^http/, "ws")}/ws/chat/${room}`, {
      headers: { Origin: origin, ...(cookie ? { Cookie: cookie } : {}) },
    });
    await once(ws, "open"); // rejects on "error", e.g. a refused upgrade
    ws.on("error", () => {}); // a later error also closes it, which `until` reports
    return new RoomSocket(ws);
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }

  join(since?: number): void {
    this.send({ type: "join", version: PROTOCOL_VERSION, ...(since === undefined ? {} : { since }) });
  }

  /**
   * Resolves with the first non-undefined value `check` returns, called on every
   * frame received so far each time one arrives; rejects if `check` throws or the
   * socket closes first.
   */
  async until<T>(check: (frames: ServerFrame[]) => T | undefined): Promise<T> {
    for (;;) {
      const found = check(this.frames);
      if (found !== undefined) return found;
      if (this.closed) throw this.closed;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Posts `messages` in order over one new socket carrying `cookie`, and waits for
 * every acknowledgement. Any error frame fails it. One socket's worth should stay
 * within the sender's burst allowance (20).
 */
export async function postOverSocket(
  baseURL: string,
  cookie: string,
  room: string,
  messages: { id: string; body: string; reply_to?: number }[],
): Promise<void> {
  if (messages.length === 0) return;
  const socket = await RoomSocket.open(baseURL, room, cookie);
  try {
    socket.join();
    for (const message of messages) socket.send({ type: "send", ...message });
    await socket.until((frames) => {
      const refusal = frames.find((f) => f.type === "error");
      if (refusal) throw new Error(`the server refused a frame: ${JSON.stringify(refusal)}`);
      const acked = new Set(frames.filter((f) => f.type === "ack").map((f) => f.id));
      return messages.every((m) => acked.has(m.id)) ? true : undefined;
    });
  } finally {
    socket.close();
  }
}
