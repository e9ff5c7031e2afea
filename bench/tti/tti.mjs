// Time to interactive of a room page, in Chromium with a throttled CPU and
// network (Chrome DevTools' "Fast 3G"-like profile, CPU 4x slower), as a
// person on a mid-range phone meets it: from navigation until the page is
// hydrated (`<body data-hydrated>`) and its WebSocket is live. Each run is a
// fresh browser context (nothing cached). Prints the runs, their median, and
// what the page fetched, as JSON on the last line.
//
//   node bench/tti/tti.mjs http://127.0.0.1:3000/chat/lounge/ [runs]
//
// Needs a running server (signed out: a reader's page) and the `playwright`
// package of end2end/ (run from the repository's root after `npm ci` there).
import { createRequire } from "node:module";
import { existsSync } from "node:fs";

const require = createRequire(new URL("../../end2end/package.json", import.meta.url));
const { chromium } = require("@playwright/test");

const url = process.argv[2] || "http://127.0.0.1:3000/chat/lounge/";
const runs = Number(process.argv[3] || 5);
const executablePath =
  process.env.CHROMIUM_PATH || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

// Fast 3G as Chrome DevTools defines it: 1.44 Mbit/s down, 675 kbit/s up, 562.5 ms RTT.
const NETWORK = { offline: false, latency: 562.5, downloadThroughput: (1.44e6 / 8) * 0.9, uploadThroughput: (675e3 / 8) * 0.9 };
const CPU_SLOWDOWN = 4;

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
const results = [];
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", NETWORK);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN });
  const fetched = new Map();
  cdp.on("Network.loadingFinished", (e) => fetched.set(e.requestId, e.encodedDataLength));
  const names = new Map();
  const codings = new Map();
  cdp.on("Network.responseReceived", (e) => {
    names.set(e.requestId, new URL(e.response.url).pathname);
    const headers = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    codings.set(e.requestId, headers["content-encoding"] || "identity");
  });
  // The page's own clock marks both moments, from the navigation's start: an
  // observer set before the page's scripts run. (Playwright's polling, under a
  // CPU four times slower, saw them up to a few hundred ms late.)
  await page.addInitScript(() => {
    const marks = (window.__tti = {});
    new MutationObserver((records) => {
      for (const { target, attributeName } of records) {
        if (attributeName === "data-hydrated") marks.hydrated ??= performance.now();
        if (attributeName === "data-state" && target.getAttribute("role") === "status" && target.dataset.state === "live")
          marks.live ??= performance.now();
      }
    }).observe(document, { attributes: true, attributeFilter: ["data-hydrated", "data-state"], subtree: true });
  });
  await page.goto(url, { waitUntil: "commit" });
  await page.waitForSelector("body[data-hydrated]", { timeout: 120_000 });
  await page.waitForSelector('[role="status"][data-state="live"]', { timeout: 120_000 });
  const marks = await page.evaluate(() => window.__tti);
  if (marks.hydrated === undefined || marks.live === undefined) throw new Error(`a moment was not seen: ${JSON.stringify(marks)}`);
  const [hydrated, live] = [Math.round(marks.hydrated), Math.round(marks.live)];
  const firstPaint = await page.evaluate(
    () => performance.getEntriesByType("paint").find((p) => p.name === "first-contentful-paint")?.startTime ?? null,
  );
  let bytes = 0;
  const wasm = [];
  for (const [id, size] of fetched) {
    bytes += size;
    const name = names.get(id) || "";
    if (name.endsWith(".wasm")) wasm.push([name.split("/").pop(), size, codings.get(id)]);
  }
  results.push({ hydrated_ms: hydrated, live_ms: live, first_paint_ms: firstPaint && Math.round(firstPaint), bytes, wasm });
  console.log(`run ${i + 1}: first paint ${Math.round(firstPaint)} ms, hydrated ${hydrated} ms, live ${live} ms, ${bytes} bytes fetched`);
  await context.close();
}
await browser.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = {
  scenario: "tti",
  url,
  network: "Fast 3G (562.5 ms RTT, 1.44 Mbit/s down)",
  cpu_slowdown: CPU_SLOWDOWN,
  runs,
  median_first_paint_ms: median(results.map((r) => r.first_paint_ms)),
  median_hydrated_ms: median(results.map((r) => r.hydrated_ms)),
  median_live_ms: median(results.map((r) => r.live_ms)),
  median_bytes: median(results.map((r) => r.bytes)),
  wasm: results[0].wasm,
};
console.log(JSON.stringify(summary));
