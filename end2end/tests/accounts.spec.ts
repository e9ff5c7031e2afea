// Accounts, end to end in a real browser: signing up, out and in through the pages
// (with and without JavaScript), the exact error texts (and that a wrong password
// and an unknown username cannot be told apart), that the session cookie is out of
// scripts' reach, that signing out really ends the session on the server, and that
// a room can be read by anyone but posted to only with an account.

import type { Browser, Cookie, Locator, Page } from "@playwright/test";
import {
  test,
  expect,
  accountInRoom,
  accountNav,
  composer,
  connection,
  ERRORS,
  fillSignIn,
  hydrated,
  log,
  newContext,
  PASSWORD,
  personInRoom,
  postForm,
  roomURL,
  RoomSocket,
  send,
  signInPrompt,
  signInThroughPage,
  signUpThroughPage,
  signUpViaApi,
  SIGN_IN_PROMPT,
  uniqueUsername,
} from "./fixtures";

/** A fresh signed-out visitor: a context of its own, one page. */
async function visitor(browser: Browser, baseURL: string, { js = true } = {}): Promise<Page> {
  const context = await newContext(browser, { baseURL, javaScriptEnabled: js });
  return context.newPage();
}

async function expectSignedIn(page: Page, displayName: string): Promise<void> {
  await expect(accountNav(page)).toContainText(`Signed in as ${displayName}`);
  await expect(accountNav(page).getByRole("button", { name: "Sign out", exact: true })).toBeVisible();
  await expect(accountNav(page).getByRole("link", { name: "Sign in", exact: true })).toHaveCount(0);
}

async function expectSignedOut(page: Page): Promise<void> {
  await expect(accountNav(page).getByRole("link", { name: "Sign in", exact: true })).toBeVisible();
  await expect(accountNav(page).getByRole("link", { name: "Create account", exact: true })).toBeVisible();
  await expect(accountNav(page)).not.toContainText("Signed in as");
  await expect(accountNav(page).getByRole("button", { name: "Sign out", exact: true })).toHaveCount(0);
}

/** Where a link leads: its path and its `next` parameter. */
async function target(link: Locator): Promise<{ path: string; next: string | null }> {
  const href = await link.getAttribute("href");
  const url = new URL(href ?? "", "http://any.example");
  return { path: url.pathname, next: url.searchParams.get("next") };
}

function sessionCookie(cookies: Cookie[]): Cookie | undefined {
  return cookies.find((c) => c.name === "chat_session");
}

test("signing up through the page lands in the room, signed in, able to post", async ({ browser, baseURL }) => {
  const page = await visitor(browser, baseURL!);
  const username = uniqueUsername("Grace");
  await signUpThroughPage(page, { username, displayName: "Grace Hopper", password: PASSWORD }, { next: "/chat/harbour/" });

  await expect(page).toHaveURL(roomURL("harbour"));
  await hydrated(page);
  await expectSignedIn(page, "Grace Hopper");
  await expect(page.getByText(SIGN_IN_PROMPT)).toHaveCount(0);
  await expect(connection(page)).toHaveAttribute("data-state", "live");
  await send(page, "first words as Grace");
  const message = log(page).locator("li.message[data-seq]").filter({ hasText: "first words as Grace" });
  await expect(message.locator(".author")).toHaveText("Grace Hopper");
});

test("without a next address, signing up and signing in lead to the lobby", async ({ browser, baseURL }) => {
  const page = await visitor(browser, baseURL!);
  const username = uniqueUsername("Lobbyist");
  await signUpThroughPage(page, { username, displayName: "Lobbyist", password: PASSWORD });
  await expect(page).toHaveURL(/\/chat\/$/);
  await expectSignedIn(page, "Lobbyist");

  await accountNav(page).getByRole("button", { name: "Sign out", exact: true }).click();
  await expectSignedOut(page);
  await signInThroughPage(page, { username, password: PASSWORD });
  await expect(page).toHaveURL(/\/chat\/$/);
  await expectSignedIn(page, "Lobbyist");
});

test("a sign-out the server could not do is said beside the button, and the person is still signed in", async ({
  browser,
  baseURL,
}) => {
  // The server sends the form back to its page so when its store is away
  // (server/tests/outage.rs makes that happen); the page says why.
  const ada = await accountInRoom(browser, baseURL!, "stuck-door", "Ada");
  await ada.page.goto(`${baseURL}/chat/stuck-door/?sign_out_error=unavailable`);
  await hydrated(ada.page);
  const alert = accountNav(ada.page).getByRole("alert");
  await expect(alert).toHaveText("Could not sign out: Accounts are unavailable right now. Try again in a moment.");
  await expect(accountNav(ada.page).getByRole("button", { name: "Sign out", exact: true })).toBeVisible();
  await expect(composer(ada.page)).toBeVisible();
});

test("signing out ends the session; the room stays readable; signing in again through the page works", async ({
  browser,
  baseURL,
}) => {
  const ada = await accountInRoom(browser, baseURL!, "doors", "Ada");
  await send(ada.page, "written before signing out");
  await expect(log(ada.page).locator("li.message[data-seq]")).toHaveCount(1);
  const before = sessionCookie(await ada.context.cookies());
  expect(before).toBeDefined();

  await accountNav(ada.page).getByRole("button", { name: "Sign out", exact: true }).click();
  await expectSignedOut(ada.page);
  await expect(ada.page).toHaveURL(roomURL("doors"));
  await hydrated(ada.page);
  await expect(composer(ada.page)).toHaveCount(0);
  await expect(signInPrompt(ada.page)).toBeVisible();
  await expect(log(ada.page).getByText("written before signing out", { exact: true })).toHaveCount(1);
  await expect(connection(ada.page)).toHaveAttribute("data-state", "live");

  // The old cookie, kept by someone, no longer signs anyone in: the session ended on the server.
  const thief = await newContext(browser, { baseURL });
  await thief.addCookies([before!]);
  const stolen = await thief.newPage();
  await stolen.goto("/chat/doors/");
  await expectSignedOut(stolen);
  await expect(composer(stolen)).toHaveCount(0);
  await thief.close();

  // The prompt's "Sign in" leads to the sign-in page and, from there, back to this room.
  await signInPrompt(ada.page).getByRole("link", { name: "Sign in", exact: true }).click();
  await expect(ada.page).toHaveURL(/\/account\/sign-in\?/);
  await hydrated(ada.page);
  // Usernames are lowercased as typed, so capitals still find the account.
  await fillSignIn(ada.page, { username: ada.username.toUpperCase(), password: PASSWORD });
  await expect(ada.page).toHaveURL(roomURL("doors"));
  await hydrated(ada.page);
  await expectSignedIn(ada.page, "Ada");
  await expect(connection(ada.page)).toHaveAttribute("data-state", "live");
  await send(ada.page, "back again");
  const again = log(ada.page).locator("li.message[data-seq]").filter({ hasText: "back again" });
  await expect(again.locator(".author")).toHaveText("Ada");
});

test("a wrong password and an unknown username get the same error, and the username stays typed", async ({
  browser,
  baseURL,
}) => {
  const username = uniqueUsername("Lin");
  await signUpViaApi(baseURL!, username, "Lin", PASSWORD);
  const page = await visitor(browser, baseURL!);

  await signInThroughPage(page, { username, password: "not-the-password-at-all" }, { next: "/chat/vault/" });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.noMatch);
  const afterWrongPassword = await page.getByRole("alert").textContent();
  await expect(page.getByLabel("Username")).toHaveValue(username);
  await expect(page).toHaveURL(/\/account\/sign-in/);
  await expectSignedOut(page);

  // On a fresh page, so the error seen is the new answer, not the one already shown.
  const stranger = uniqueUsername("nobody");
  await signInThroughPage(page, { username: stranger, password: PASSWORD }, { next: "/chat/vault/" });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.noMatch);
  expect(await page.getByRole("alert").textContent()).toBe(afterWrongPassword);
  await expect(page.getByLabel("Username")).toHaveValue(stranger);
  await expectSignedOut(page);
  expect(sessionCookie(await page.context().cookies())).toBeUndefined();

  // The right password still works after the failures, and `next` was kept.
  await fillSignIn(page, { username, password: PASSWORD });
  await expect(page).toHaveURL(roomURL("vault"));
  await expectSignedIn(page, "Lin");
});

test("guessing passwords for one username soon meets a clear limit that holds even for the right one", async ({
  browser,
  baseURL,
}) => {
  const username = uniqueUsername("Target");
  await signUpViaApi(baseURL!, username, "Target", PASSWORD);
  const page = await visitor(browser, baseURL!);
  const answer = new RegExp(`^(${ERRORS.noMatch}|${ERRORS.tooManyAttempts})$`);

  let limited = false;
  for (let guess = 1; guess <= 25 && !limited; guess++) {
    // A fresh page each time, so the alert read is this guess's answer.
    await signInThroughPage(page, { username, password: `wrong-guess-number-${guess}` });
    await expect(page.getByRole("alert")).toHaveAttribute("data-code", answer);
    limited = (await page.getByRole("alert").getAttribute("data-code")) === ERRORS.tooManyAttempts;
  }
  expect(limited, "refused as too many attempts within 25 wrong guesses").toBe(true);

  await signInThroughPage(page, { username, password: PASSWORD });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.tooManyAttempts);
  await expectSignedOut(page);
  expect(sessionCookie(await page.context().cookies())).toBeUndefined();
});

test("after signing in, `next` never leads off the site", async ({ baseURL }) => {
  const username = uniqueUsername("Redirect");
  await signUpViaApi(baseURL!, username, "Redirect", PASSWORD);
  const site = new URL(baseURL!).origin;
  for (const next of ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)", "http:evil.example"]) {
    const response = await postForm(baseURL!, "/api/sign-in", { username, password: PASSWORD, next });
    expect(response.status, `next=${next}`).toBe(302);
    const location = new URL(response.headers.get("location") ?? "", site);
    expect(location.origin, `next=${next} led to ${location}`).toBe(site);
  }
});

test("a taken username is refused with a clear error, keeping what was typed", async ({ browser, baseURL }) => {
  const username = uniqueUsername("Taken");
  await signUpViaApi(baseURL!, username, "First Owner", PASSWORD);
  const page = await visitor(browser, baseURL!);

  await signUpThroughPage(page, { username, displayName: "Second Comer", password: PASSWORD }, { next: "/chat/taken/" });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.usernameTaken);
  await expect(page.getByLabel("Username")).toHaveValue(username);
  await expect(page).toHaveURL(/\/account\/sign-up/);
  await expectSignedOut(page);
  expect(sessionCookie(await page.context().cookies())).toBeUndefined();
});

test("a weak password is refused, and no account is made", async ({ browser, baseURL }) => {
  const page = await visitor(browser, baseURL!);
  const username = uniqueUsername("weak");
  expect(username.length).toBeGreaterThanOrEqual(10);

  await signUpThroughPage(page, { username, displayName: "Weak", password: "9-chars!!" });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.weakPassword);
  await expect(page.getByLabel("Username")).toHaveValue(username);

  // Long enough, but the username itself (a fresh page, so the error is a new one).
  await signUpThroughPage(page, { username, displayName: "Weak", password: username });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.weakPassword);
  await expectSignedOut(page);

  // Nothing was half made: the same username is still free.
  await signUpThroughPage(page, { username, displayName: "Weak", password: PASSWORD });
  await expect(page).toHaveURL(/\/chat\/$/);
  await expectSignedIn(page, "Weak");
});

test("without JavaScript, signing up, out and back in all work through plain forms", async ({ browser, baseURL }) => {
  const page = await visitor(browser, baseURL!, { js: false });
  const credentials = { username: uniqueUsername("Nojs"), displayName: "No Script", password: PASSWORD };

  await signUpThroughPage(page, credentials, { next: "/chat/quiet/", js: false });
  await expect(page).toHaveURL(roomURL("quiet"));
  await expectSignedIn(page, "No Script");

  await accountNav(page).getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(roomURL("quiet"));
  await expectSignedOut(page);
  await expect(page.getByText(SIGN_IN_PROMPT)).toBeVisible();

  await signInThroughPage(page, credentials, { next: "/chat/quiet/", js: false });
  await expect(page).toHaveURL(roomURL("quiet"));
  await expectSignedIn(page, "No Script");
  await page.context().close();
});

test("without JavaScript, the account errors are still shown", async ({ browser, baseURL }) => {
  const username = uniqueUsername("Plain");
  await signUpViaApi(baseURL!, username, "Plain", PASSWORD);
  const page = await visitor(browser, baseURL!, { js: false });

  await signInThroughPage(page, { username, password: "wrong-password-here" }, { js: false });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.noMatch);
  await signInThroughPage(page, { username: uniqueUsername("ghost"), password: PASSWORD }, { js: false });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.noMatch);

  await signUpThroughPage(page, { username, displayName: "Copycat", password: PASSWORD }, { js: false });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.usernameTaken);

  await signUpThroughPage(page, { username: uniqueUsername("short"), displayName: "Short", password: "short" }, { js: false });
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", ERRORS.weakPassword);

  await expectSignedOut(page);
  expect(sessionCookie(await page.context().cookies())).toBeUndefined();
  await page.context().close();
});

test("the session cookie is HttpOnly, SameSite=Lax, for the whole site, and hidden from scripts", async ({
  browser,
  baseURL,
}) => {
  const ada = await accountInRoom(browser, baseURL!, "cookies", "Ada");
  const cookie = sessionCookie(await ada.context.cookies());
  expect(cookie, "a chat_session cookie").toBeDefined();
  expect(cookie!.httpOnly).toBe(true);
  expect(cookie!.sameSite).toBe("Lax");
  expect(cookie!.path).toBe("/");
  expect(await ada.page.evaluate(() => document.cookie)).not.toContain("chat_session");

  // The same, as the server says it, to a client without a browser.
  const response = await postForm(baseURL!, "/api/sign-up", {
    username: uniqueUsername("Raw"),
    display_name: "Raw",
    password: PASSWORD,
    next: "/chat/cookies/",
  });
  expect(response.status).toBe(302);
  expect(response.headers.get("location")).toMatch(/\/chat\/cookies\/$/);
  const header = response.headers.getSetCookie().find((c) => c.startsWith("chat_session="));
  expect(header, "Set-Cookie: chat_session=…").toBeDefined();
  expect(header).toMatch(/;\s*HttpOnly(;|$)/i);
  expect(header).toMatch(/;\s*SameSite=Lax(;|$)/i);
  expect(header).toMatch(/;\s*Path=\/(;|$)/i);
});

test("a signed-out reader sees the history live and a prompt to sign in that comes back to the room", async ({
  browser,
  baseURL,
}) => {
  const ada = await personInRoom(browser, baseURL!, "reading-room", "Ada");
  await send(ada, "for everyone to read");

  const reader = await visitor(browser, baseURL!);
  await reader.goto("/chat/reading-room/");
  await hydrated(reader);
  await expect(connection(reader)).toHaveAttribute("data-state", "live");
  await expect(log(reader).getByText("for everyone to read", { exact: true })).toHaveCount(1);
  await expectSignedOut(reader);

  // No composer and none of the old name picker: a prompt instead, whose links come back here.
  await expect(composer(reader)).toHaveCount(0);
  await expect(reader.getByLabel("Display name")).toHaveCount(0);
  await expect(reader.getByRole("button", { name: "Join room" })).toHaveCount(0);
  const prompt = signInPrompt(reader);
  await expect(prompt).toBeVisible();
  expect(await target(prompt.getByRole("link", { name: "Sign in", exact: true }))).toEqual({
    path: "/account/sign-in",
    next: "/chat/reading-room/",
  });
  expect(await target(prompt.getByRole("link", { name: "Create account", exact: true }))).toEqual({
    path: "/account/sign-up",
    next: "/chat/reading-room/",
  });

  // New messages reach the reader live.
  await send(ada, "still reading?");
  await expect(log(reader).getByText("still reading?", { exact: true })).toHaveCount(1);

  // From the prompt to an account and back into this room, able to post.
  await prompt.getByRole("link", { name: "Create account", exact: true }).click();
  await expect(reader).toHaveURL(/\/account\/sign-up\?/);
  await hydrated(reader);
  await reader.getByLabel("Username").fill(uniqueUsername("Reader"));
  await reader.getByLabel("Display name").fill("Reader");
  await reader.getByLabel("Password").fill(PASSWORD);
  await reader.getByRole("button", { name: "Create account", exact: true }).click();
  await expect(reader).toHaveURL(roomURL("reading-room"));
  await hydrated(reader);
  await expectSignedIn(reader, "Reader");
  await expect(connection(reader)).toHaveAttribute("data-state", "live");
  await send(reader, "hello, I signed up");
  await expect(log(ada).getByText("hello, I signed up", { exact: true })).toHaveCount(1);
});

test("every page carries the account navigation, signed out and signed in", async ({ browser, baseURL }) => {
  const pages = ["/chat/", "/chat/anywhere/", "/account/sign-in", "/account/sign-up", "/chat/caf%C3%A9/"];
  const context = await newContext(browser, { baseURL });
  const page = await context.newPage();
  for (const path of pages) {
    await page.goto(path);
    await expectSignedOut(page);
  }

  const cookie = await signUpViaApi(baseURL!, uniqueUsername("Navi"), "Navi", PASSWORD);
  const [name, value] = [cookie.slice(0, cookie.indexOf("=")), cookie.slice(cookie.indexOf("=") + 1)];
  await context.addCookies([{ name, value, url: baseURL! }]);
  for (const path of pages) {
    await page.goto(path);
    await expect(accountNav(page), `on ${path}`).toContainText("Signed in as Navi");
  }
  await context.close();
});

test("over the socket, a reader without a session can join but not post; with one, can", async ({ baseURL }) => {
  const anonymous = await RoomSocket.open(baseURL!, "sockets");
  try {
    anonymous.join();
    await anonymous.until((frames) => frames.find((f) => f.type === "welcome"));
    anonymous.send({ type: "send", id: "anon-1", body: "let me in" });
    const refusal = await anonymous.until((frames) => frames.find((f) => f.type === "error"));
    expect(refusal.code).toBe("sign_in_required");
    expect(anonymous.frames.some((f) => f.type === "ack" || f.type === "message")).toBe(false);
  } finally {
    anonymous.close();
  }

  const cookie = await signUpViaApi(baseURL!, uniqueUsername("Sock"), "Sock", PASSWORD);
  const member = await RoomSocket.open(baseURL!, "sockets", cookie);
  try {
    member.join();
    member.send({ type: "send", id: "member-1", body: "signed in, posting" });
    const ack = await member.until((frames) => {
      const error = frames.find((f) => f.type === "error");
      if (error) throw new Error(`refused: ${JSON.stringify(error)}`);
      return frames.find((f) => f.type === "ack" && f.id === "member-1");
    });
    expect(ack.seq).toBe(1);
    const message = await member.until((frames) => frames.find((f) => f.type === "message"));
    expect(message).toMatchObject({ author: "Sock", body: "signed in, posting", seq: 1 });
  } finally {
    member.close();
  }
});
