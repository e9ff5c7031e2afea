import { test as base, expect, Browser, Page } from "@playwright/test";
import { ChatServer } from "./server";

type WorkerFixtures = { server: ChatServer };

export const test = base.extend<{}, WorkerFixtures>({
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

/** Waits until the page's WASM has hydrated it. */
export async function hydrated(page: Page): Promise<void> {
  await page.locator("body[data-hydrated]").waitFor();
}

/**
 * A person in their own browser context (own storage, own connection), already
 * in `room` under `name` with a live connection.
 */
export async function personInRoom(
  browser: Browser,
  baseURL: string,
  room: string,
  name: string,
): Promise<Page> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await page.goto(`/chat/${room}/`);
  await hydrated(page);
  await page.getByLabel("Display name").fill(name);
  await page.getByRole("button", { name: "Join room" }).click();
  await expect(connection(page)).toHaveAttribute("data-state", "live");
  return page;
}

export function connection(page: Page) {
  return page.getByRole("status");
}

export function log(page: Page) {
  return page.getByRole("log", { name: "Messages" });
}

export async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByRole("textbox", { name: "Message" });
  await composer.fill(text);
  await composer.press("Enter");
  await expect(composer).toHaveValue("");
}
