import { test, expect, accountInRoom, composer, log, send } from "./fixtures";
import type { Page } from "@playwright/test";

/** A PNG of `width` x `height` drawn by the browser itself. */
async function png(page: Page, width: number, height: number): Promise<Buffer> {
  const dataUrl = await page.evaluate(
    ([w, h]) => {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const context = canvas.getContext("2d")!;
      context.fillStyle = "#3366cc";
      context.fillRect(0, 0, w, h);
      context.fillStyle = "#ffcc00";
      context.fillRect(w / 4, h / 4, w / 2, h / 2);
      return canvas.toDataURL("image/png");
    },
    [width, height],
  );
  return Buffer.from(dataUrl.split(",")[1], "base64");
}

/** Drops a file on the composer, as dragging one from the desktop does. */
async function dropFile(page: Page, name: string, type: string, text: string) {
  const dataTransfer = await page.evaluateHandle(
    ([name, type, text]) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], name, { type }));
      return transfer;
    },
    [name, type, text],
  );
  await page.locator("form.composer").dispatchEvent("drop", { dataTransfer });
}

test("an image picked in the composer uploads with progress and posts as a thumbnail; a dropped file as a download", async ({
  browser,
  baseURL,
}) => {
  const room = "files-live";
  const ada = await accountInRoom(browser, baseURL!, room, "Ada");
  const bob = await accountInRoom(browser, baseURL!, room, "Bob");

  // A slow uplink, so the upload's progress can be seen.
  const cdp = await ada.context.newCDPSession(ada.page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 20,
    downloadThroughput: -1,
    uploadThroughput: 300 * 1024,
  });
  const image = await png(ada.page, 1600, 800);
  // Noise at its end (after the image's own end): a bigger upload, the same picture.
  const padded = Buffer.concat([image, Buffer.alloc(700 * 1024, 7)]);
  await ada.page.getByLabel("Attach a file").setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: padded });
  const sending = ada.page.locator('.upload[data-upload="sending"]');
  await expect(sending).toContainText("Uploading logo.png");
  await expect(sending.locator("progress")).toBeVisible();
  await expect(ada.page.getByRole("button", { name: "Uploading…" })).toBeDisabled();
  await expect(ada.page.locator('.upload[data-upload="ready"]')).toContainText("logo.png", { timeout: 20_000 });
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
  await send(ada.page, "our new logo");
  await expect(ada.page.locator(".upload")).toHaveCount(0);

  for (const page of [ada.page, bob.page]) {
    const message = log(page).getByRole("listitem").filter({ hasText: "our new logo" });
    const thumb = message.locator(".file-image img");
    // Its size is on the page before it loads: the log does not jump.
    await expect(thumb).toHaveAttribute("width", "480");
    await expect(thumb).toHaveAttribute("height", "240");
    await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(480);
    await expect(message.locator(".file-image")).toHaveAttribute("href", /\/files\/[\w-]+\/logo\.png$/);
  }

  // Dropped on the composer, a file goes with no words at all; it shows as a card.
  await dropFile(bob.page, "notes.html", "text/html", "<h1>not a page here</h1>");
  await expect(bob.page.locator('.upload[data-upload="ready"]')).toContainText("notes.html");
  await composer(bob.page).press("Enter");
  for (const page of [ada.page, bob.page]) {
    const card = log(page).locator(".file-card").filter({ hasText: "notes.html" });
    await expect(card).toContainText("24 B");
  }
  const href = await log(ada.page).locator(".file-card").getAttribute("href");
  const served = await ada.page.request.get(href!);
  expect(served.status()).toBe(200);
  expect(served.headers()["content-disposition"]).toMatch(/^attachment/);
  expect(served.headers()["x-content-type-options"]).toBe("nosniff");
  expect(served.headers()["content-type"]).not.toContain("html");

  // Pasted, too; and taken back before posting, nothing is posted.
  await composer(ada.page).evaluate((box) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(["a,b\n1,2\n"], "table.csv", { type: "text/csv" }));
    box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
  });
  await expect(ada.page.locator('.upload[data-upload="ready"]')).toContainText("table.csv");
  await ada.page.locator(".upload").getByRole("button", { name: "Remove" }).click();
  await composer(ada.page).press("Enter");
  await send(ada.page, "never mind");
  await expect(log(bob.page).getByRole("listitem").filter({ hasText: "never mind" })).toBeVisible();
  await expect(log(bob.page).locator(".file-card").filter({ hasText: "table.csv" })).toHaveCount(0);
});

test("a file over the size limit is refused in the composer with the limit, and the room goes on", async ({
  browser,
  baseURL,
}) => {
  const ada = await accountInRoom(browser, baseURL!, "files-refused", "Ada");
  const big = Buffer.alloc(10 * 1024 * 1024 + 1, 1);
  await ada.page.getByLabel("Attach a file").setInputFiles({ name: "huge.bin", mimeType: "application/octet-stream", buffer: big });
  await expect(ada.page.locator(".composer").getByRole("alert")).toHaveText(
    "That file is larger than 10 MB, the most this server takes.",
  );
  await expect(ada.page.locator(".upload")).toHaveCount(0);
  await send(ada.page, "still here");
  await expect(log(ada.page).getByRole("listitem").filter({ hasText: "still here" })).toBeVisible();
});
