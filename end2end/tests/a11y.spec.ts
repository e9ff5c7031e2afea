// Every page passes axe-core with no moderate, serious or critical finding:
// landmarks, names, contrast, labels, in light and dark, signed out and in.
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { test, expect, newContext, hydrated, accountInRoom, connection } from "./fixtures";

const BLOCKING = new Set(["moderate", "serious", "critical"]);

async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const findings = results.violations
    .filter((v) => BLOCKING.has(v.impact ?? ""))
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  expect(findings, `axe findings on ${page.url()}`).toEqual([]);
}

for (const colorScheme of ["light", "dark"] as const) {
  test(`signed-out pages pass axe (${colorScheme})`, async ({ browser, baseURL }) => {
    const context = await newContext(browser, { baseURL, colorScheme });
    const page = await context.newPage();
    for (const path of ["/chat/", "/account/sign-in", "/account/sign-up", "/chat/axe-room/", "/chat/Not%20A%20Room!/", "/nowhere"]) {
      await page.goto(path);
      await hydrated(page);
      await expectAccessible(page);
    }
  });

  test(`a signed-in room page with messages passes axe (${colorScheme})`, async ({ browser, baseURL }) => {
    const ada = await accountInRoom(browser, baseURL!, `axe-talk-${colorScheme}`, "Ada", { contextOptions: { colorScheme } });
    await ada.page.getByRole("textbox", { name: "Message" }).fill("hello *there*, see `code` and https://example.com");
    await ada.page.getByRole("textbox", { name: "Message" }).press("Enter");
    await expect(ada.page.getByRole("log", { name: "Messages" }).getByText("hello")).toHaveCount(1);
    await expect(connection(ada.page)).toHaveAttribute("data-state", "live");
    await expectAccessible(ada.page);
  });
}
