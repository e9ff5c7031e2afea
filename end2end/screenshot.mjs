// Takes the README's screenshot: two people in a room, seen by one of them.
// Usage: node screenshot.mjs http://127.0.0.1:3000 ../docs/screenshot.png [dark]
import { chromium } from "@playwright/test";
import { existsSync } from "node:fs";

const [base = "http://127.0.0.1:3000", out = "../docs/screenshot.png", scheme = "light"] =
  process.argv.slice(2);
const executablePath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});

async function person(name, viewport) {
  const context = await browser.newContext({ baseURL: base, viewport, colorScheme: scheme });
  const page = await context.newPage();
  await page.goto("/account/sign-up?next=/chat/rustaceans/");
  await page.locator("body[data-hydrated]").waitFor();
  await page.getByLabel("Username").fill(`${name.toLowerCase()}-${Date.now().toString(36)}`);
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Password").fill("a screenshot password");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/chat\/rustaceans\/$/);
  await page.locator('[data-state="live"]').waitFor();
  return page;
}

async function say(page, text) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await page.getByRole("log").getByText(text.split("\n")[0]).last().waitFor();
}

const ada = await person("Ada", { width: 900, height: 560 });
const ferris = await person("Ferris", { width: 900, height: 560 });
await say(ada, "Morning! Is the release branch cut yet?");
await say(ferris, "Cut and tagged. CI is green on all three targets.");
await say(ada, "Lovely. I'll write the notes:\n- *faster* reconnects\n- room names are `case-insensitive`");
await say(ferris, "Ship it.");
await ada.getByRole("log").getByText("Ship it.").waitFor();
await ada.screenshot({ path: out });
await browser.close();
