// Hostile messages: what one member posts cannot run code, add markup, links to
// anything but http(s)/mailto, restyle the page, reorder text with bidi controls, or
// break the layout in anyone's browser. Ada posts every payload through the real
// composer; Bob (another account, another browser context, a phone-sized screen)
// receives them live. Then, for Bob, for Ada, for Bob after a reload (server-rendered
// page, then older messages loaded by the client) and for a reader without
// JavaScript: no dialog opened, nothing set `window.__pwned`, the log holds only
// the Markdown subset's elements with safe links, no bidi control survives, the
// raw-HTML payloads read back as exactly the text that was sent, and nothing is
// wider than the screen.

import type { BrowserContext, Page } from "@playwright/test";
import { test, expect, accountInRoom, connection, hydrated, log, newContext, send } from "./fixtures";

const ROOM = "hostile";

/**
 * One message to post. `__N__` in `body` becomes the payload's number, so a payload
 * that ever runs says which one it was (`window.__pwned = N` or `alert(N)`).
 * `exact`: the body has no Markdown syntax, so the message must read back as
 * exactly this text (less the bidi controls the contract says are removed).
 * `shows`: a piece of text the rendered message must contain.
 */
type Payload = { body: string; exact?: boolean; shows?: string };

const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

const WRITTEN: Payload[] = [
  // Raw HTML: never interpreted, shown as the very text typed.
  { exact: true, body: "<script>alert(__N__)</script>" },
  { exact: true, body: "<script>window.__pwned=__N__</script>" },
  { exact: true, body: '<script src="data:text/javascript,alert(__N__)"></script>' },
  { exact: true, body: "<script>alert(__N__)" },
  { exact: true, body: "<scr<script>ipt>alert(__N__)</scr</script>ipt>" },
  { exact: true, body: "<img src=x onerror=alert(__N__)>" },
  { exact: true, body: '<img src=x onerror="window.__pwned=__N__">' },
  { exact: true, body: "<img/src/onerror=alert(__N__)>" },
  { exact: true, body: "<img src=x onerror=alert(__N__)" },
  { exact: true, body: "<svg onload=alert(__N__)>" },
  { exact: true, body: "<svg><script>alert(__N__)</script></svg>" },
  { exact: true, body: "<svg><animate onbegin=alert(__N__) attributeName=x dur=1s>" },
  { exact: true, body: '<iframe srcdoc="<script>parent.alert(__N__)</script>"></iframe>' },
  { exact: true, body: '<iframe src="javascript:alert(__N__)"></iframe>' },
  { exact: true, body: '<object data="javascript:alert(__N__)"></object>' },
  { exact: true, body: '<object data="data:text/html,<script>alert(__N__)</script>"></object>' },
  { exact: true, body: '<embed src="javascript:alert(__N__)">' },
  { exact: true, body: "<body onload=alert(__N__)>" },
  { exact: true, body: "<details open ontoggle=alert(__N__)>" },
  { exact: true, body: "<input autofocus onfocus=alert(__N__)>" },
  { exact: true, body: "<video><source onerror=alert(__N__)></video>" },
  { exact: true, body: "<audio src=x onerror=alert(__N__)>" },
  { exact: true, body: "<marquee onstart=alert(__N__)>x</marquee>" },
  { exact: true, body: "<x onclick=alert(__N__)>custom element</x>" },
  { exact: true, body: '<div onmouseover="alert(__N__)" style="position:fixed;inset:0">hover me</div>' },
  { exact: true, body: '<a href="javascript:alert(__N__)">click me</a>' },
  { exact: true, body: "<a href=JaVaScRiPt:alert(__N__)>x</a>" },
  { exact: true, body: '<form action="javascript:alert(__N__)"><button>go</button></form>' },
  { exact: true, body: '<math><maction actiontype="statusline" xlink:href="javascript:alert(__N__)">x</maction></math>' },
  { exact: true, body: "<math><mtext><table><mglyph><style><img src=x onerror=alert(__N__)>" },
  { exact: true, body: '<noscript><p title="</noscript><img src=x onerror=alert(__N__)>">' },
  { exact: true, body: "<svg><style><img src=x onerror=alert(__N__)></style></svg>" },
  { exact: true, body: '<!--<img src="--><img src=x onerror=alert(__N__)//">' },
  { exact: true, body: "<template><script>alert(__N__)</script></template>" },
  { exact: true, body: "<style>body{display:none}</style>" },
  { exact: true, body: "<link rel=stylesheet href=data:text/css,body{display:none}>" },
  { exact: true, body: '<p style="background:url(javascript:alert(__N__))">styled</p>' },
  { exact: true, body: '<meta http-equiv="refresh" content="0;url=javascript:alert(__N__)">' },
  { exact: true, body: '<base href="javascript:alert(__N__)//">' },
  { exact: true, body: '"><script>alert(__N__)</script>' },
  { exact: true, body: "'><img src=x onerror=alert(__N__)>" },
  { exact: true, body: "</textarea><script>alert(__N__)</script>" },
  { exact: true, body: "</li></ol><script>alert(__N__)</script>" },
  // Other schemes, raw: plain text, never a link.
  { exact: true, body: "javascript:alert(__N__)" },
  { exact: true, body: "JaVaScRiPt:alert(__N__)" },
  { exact: true, body: "vbscript:msgbox(__N__)" },
  { exact: true, body: "data:text/html,<script>alert(__N__)</script>" },
  // Template and expression injection.
  { exact: true, body: "{{constructor.constructor('alert(__N__)')()}}" },
  { exact: true, body: "${alert(__N__)} #{alert(__N__)} <%= alert(__N__) %>" },
  // Bidi controls are removed; the rest stays.
  { exact: true, body: "invoice\u202Efdp.exe" },
  { exact: true, body: "abc\u2066isolated\u2069def \u2067rtl\u2069 \u2068first\u2069" },
  { exact: true, body: "\u202Aembed\u202C \u202Boverride\u202D" },
  { exact: true, body: "admin\u202E\u2066<script>alert(__N__)</script>\u2069" },
  // Sizes and scripts that stress layout.
  { exact: true, body: "A".repeat(3000) },
  { exact: true, body: "👩‍👩‍👧‍👦🏳️‍🌈👨🏽‍💻🧑‍🤝‍🧑".repeat(40) },

  // Markdown links to other schemes: shown as text, never links.
  { body: "[x](javascript:alert(__N__))", shows: "javascript:alert(__N__)" },
  { body: "[x](JaVaScRiPt:alert(__N__))", shows: "JaVaScRiPt:alert(__N__)" },
  { body: "[x]( javascript:alert(__N__) )", shows: "javascript:alert(__N__)" },
  { body: "[x](java&#x09;script:alert(__N__))" },
  { body: "[x](&#106;avascript:alert(__N__))" },
  { body: "[x](javascript://example.com/%0Aalert(__N__))" },
  { body: "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", shows: "data:text/html" },
  { body: "[x](vbscript:msgbox(__N__))", shows: "vbscript:msgbox(__N__)" },
  { body: "![x](javascript:alert(__N__))" },
  { body: '![x](https://example.com/x.png" onerror="alert(__N__))' },
  { body: "<javascript:alert(__N__)>" },
  // Links that try to break out of their attribute or carry markup.
  { body: '[x](https://example.com/" onmouseover="alert(__N__))' },
  { body: '[x](https://example.com/"><script>alert(__N__)</script>)' },
  { body: "[<img src=x onerror=alert(__N__)>](https://example.com/)", shows: "<img src=x onerror=alert(__N__)>" },
  { body: '<https://example.com/" onclick="alert(__N__)>' },
  { body: "https://example.com/<img src=x onerror=alert(__N__)>" },
  { body: 'https://example.com/?q="><svg onload=alert(__N__)>' },
  { body: "mailto:x@example.com?subject=<script>alert(__N__)</script>" },
  { body: "https://example.com/" + "a".repeat(2000) },
  // Markup inside Markdown.
  { body: "**<script>alert(__N__)</script>**", shows: "<script>alert(__N__)</script>" },
  { body: "*<img src=x onerror=alert(__N__)>*", shows: "<img src=x onerror=alert(__N__)>" },
  { body: "`<script>alert(__N__)</script>`", shows: "<script>alert(__N__)</script>" },
  { body: "```html\n<script>alert(__N__)</script>\n```", shows: "<script>alert(__N__)</script>" },
  { body: "```\n</code></pre><img src=x onerror=alert(__N__)>\n```", shows: "</code></pre><img src=x onerror=alert(__N__)>" },
  { body: "```\n" + "y".repeat(1000) + "\n```", shows: "y".repeat(1000) },
  // Markdown nested 50 deep.
  { body: "*".repeat(50) + "deep" + "*".repeat(50), shows: "deep" },
  { body: "[".repeat(50) + "x" + "](https://example.com/)".repeat(50) },
  { body: "> ".repeat(50) + "<img src=x onerror=alert(__N__)>" },
  { body: "`".repeat(50) + "<script>alert(__N__)</script>" + "`".repeat(50) },
  { body: "**".repeat(25) + "*`[x](javascript:alert(__N__))`*" + "**".repeat(25) },
  // HTML entities: whether decoded or not, text.
  { body: "&lt;script&gt;alert(__N__)&lt;/script&gt;" },
  { body: "&#60;img src=x onerror=alert(__N__)&#62;" },
  { body: "&#x3C;svg onload=alert(__N__)&#x3E;" },
  { body: '<img src=x onerror="&#97;lert(__N__)">' },
  { body: "<![CDATA[<script>alert(__N__)</script>]]>" },
  { body: "{{7*7}} ${7*7} <%= 7*7 %>" },
  // Control, zero-width and other invisible characters.
  { body: "nul\u0000byte<script>alert(__N__)</script>" },
  { body: "\u0001\u0002\u0007bell \u001b[31mred\u001b[0m \u007f\u0085 line\u2028sep\u2029para", shows: "bell" },
  { body: "pay\u200Bpal\uFEFF.com \u200D\u200C joiners", shows: "joiners" },
  { body: "<scr\u200Bipt>alert(__N__)</scr\u200Bipt>" },
  { body: "\u200Fright-to-left mark\u200E and \u061C arabic mark", shows: "arabic mark" },
  { body: "Z\u0335\u0321\u031Ba\u0338l\u0336g\u0335o\u0334".repeat(20) + "\u0336".repeat(200), shows: "Z" },
  { body: "top" + "\n".repeat(500) + "bottom", shows: "bottom" },
];

const PAYLOADS: Payload[] = WRITTEN.map(({ body, exact, shows }, i) => ({
  body: body.replaceAll("__N__", String(i + 1)),
  exact,
  shows: shows?.replaceAll("__N__", String(i + 1)),
}));

/** Elements a message must never produce, anywhere in the log. */
const FORBIDDEN = [
  "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "img",
  "picture", "video", "audio", "source", "style", "link", "meta", "base", "form", "input",
  "textarea", "select", "template", "noscript", "marquee", "details", "portal",
].join(", ");

/** All a message body may contain: the Markdown subset's elements and plain wrappers. */
const BODY_TAGS = ["em", "strong", "code", "pre", "a", "br", "p", "span", "bdi", "wbr", "div"];
const BODY_ATTRIBUTES = ["href", "rel", "target", "class", "title", "dir", "lang"];

/** What a log would show to an auditor: every finding is a short description. */
type Audit = {
  forbidden: string[];
  handlers: string[];
  unexpectedTags: string[];
  unexpectedAttributes: string[];
  badLinks: string[];
  bidi: string[];
};

function audit(page: Page): Promise<Audit> {
  return log(page).evaluate(
    (list, { forbidden, bodyTags, bodyAttributes }) => {
      const describe = (el: Element) => {
        const item = el.closest("li[data-seq]");
        return `#${item?.getAttribute("data-seq") ?? "?"} ${el.outerHTML.slice(0, 160)}`;
      };
      const all = [...list.querySelectorAll("*")];
      const bodies = [...list.querySelectorAll("li.message[data-seq] .body")];
      const inBodies = bodies.flatMap((body) => [...body.querySelectorAll("*")]);
      return {
        forbidden: [...list.querySelectorAll(forbidden)].map(describe),
        handlers: [list, ...all]
          .filter((el) => [...el.attributes].some((a) => a.name.toLowerCase().startsWith("on")))
          .map(describe),
        unexpectedTags: inBodies.filter((el) => !bodyTags.includes(el.localName)).map(describe),
        unexpectedAttributes: inBodies
          .filter((el) =>
            [...el.attributes].some((a) => !bodyAttributes.includes(a.name) && !a.name.startsWith("data-")),
          )
          .map(describe),
        // The links a message's text made (the message's own actions are the page's).
        badLinks: bodies
          .flatMap((body) => [...body.querySelectorAll("a")])
          .filter((a) => {
            const href = a.getAttribute("href") ?? "";
            const rel = (a.getAttribute("rel") ?? "").split(/\s+/).filter(Boolean).sort().join(" ");
            return (
              !/^(https?|mailto):/i.test(href) ||
              !["http:", "https:", "mailto:"].includes((a as HTMLAnchorElement).protocol) ||
              rel !== "noopener noreferrer ugc" ||
              a.getAttribute("target") !== "_blank"
            );
          })
          .map(describe),
        bidi: bodies.filter((body) => /[\u202A-\u202E\u2066-\u2069]/.test(body.textContent ?? "")).map(describe),
      };
    },
    { forbidden: FORBIDDEN, bodyTags: BODY_TAGS, bodyAttributes: BODY_ATTRIBUTES },
  );
}

const CLEAN: Audit = {
  forbidden: [],
  handlers: [],
  unexpectedTags: [],
  unexpectedAttributes: [],
  badLinks: [],
  bidi: [],
};

/** Every stored message's body text, by seq. */
function bodiesBySeq(page: Page): Promise<Record<string, string>> {
  return log(page)
    .locator("li.message[data-seq]")
    .evaluateAll((items) =>
      Object.fromEntries(
        items.map((li) => [li.getAttribute("data-seq")!, li.querySelector(".body")?.textContent ?? ""]),
      ),
    );
}

/** Horizontal overflow, in px (0 when none), and the messages that stick out of the screen. */
function layout(page: Page) {
  return log(page).evaluate((list) => {
    const width = document.documentElement.clientWidth;
    const over = (el: Element) => Math.max(0, el.scrollWidth - el.clientWidth - 1);
    const scroller = list.closest(".log-scroller") ?? list.parentElement!;
    const items = [...list.querySelectorAll("li.message")];
    return {
      log: over(list),
      scroller: over(scroller),
      page: over(document.documentElement),
      wideBodies: items
        .filter((li) => { const body = li.querySelector(".body"); return body !== null && over(body) > 0; })
        .map((li) => li.getAttribute("data-seq")),
      outsideScreen: items
        .filter((li) => { const box = li.getBoundingClientRect(); return box.left < -1 || box.right > width + 1; })
        .map((li) => li.getAttribute("data-seq")),
    };
  });
}

const NO_OVERFLOW = { log: 0, scroller: 0, page: 0, wideBodies: [], outsideScreen: [] };

/** Things seen in a context that should never happen: dialogs, and what the page itself noticed. */
type Watch = { dialogs: string[] };

/**
 * Before a context's first page: fail-safe watches. Dialogs are recorded and
 * dismissed; each page records, from its very first node, any forbidden element
 * or `on*` attribute that ever enters the log (even for a moment), and every
 * script blocked by the Content Security Policy.
 */
async function watch(context: BrowserContext, watched: Watch): Promise<void> {
  context.on("dialog", (dialog) => {
    watched.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  await context.addInitScript((forbidden: string) => {
    const w = window as any;
    w.__hostileSeen = [];
    w.__blockedScripts = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      if (e.effectiveDirective.startsWith("script-src")) {
        w.__blockedScripts.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sample}`);
      }
    });
    const check = (node: Node) => {
      if (!(node instanceof Element) || !node.closest('[role="log"]')) return;
      for (const el of [node, ...node.querySelectorAll("*")]) {
        const handler = [...el.attributes].find((a) => a.name.toLowerCase().startsWith("on"));
        if (el.matches(forbidden) || handler) w.__hostileSeen.push(el.outerHTML.slice(0, 160));
      }
    };
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === "attributes") check(record.target);
        for (const node of record.addedNodes) check(node);
      }
    }).observe(document, { childList: true, subtree: true, attributes: true });
  }, FORBIDDEN);
}

/** Every check that holds for any page showing the room, whatever it holds. */
async function expectUnharmed(page: Page, who: string, { scripts = true } = {}): Promise<void> {
  await expect(page, `${who} stays on the room`).toHaveURL(new RegExp(`/chat/${ROOM}/$`));
  expect(await audit(page), `${who}: the log's markup`).toEqual(CLEAN);
  expect(await layout(page), `${who}: nothing wider than the screen`).toEqual(NO_OVERFLOW);
  if (!scripts) return;
  const seen = await page.evaluate(() => {
    const w = window as any;
    return { pwned: w.__pwned, hostileSeen: w.__hostileSeen, blockedScripts: w.__blockedScripts };
  });
  expect(seen, `${who}: nothing ran, nothing hostile ever entered the log`).toEqual({
    pwned: undefined,
    hostileSeen: [],
    blockedScripts: [],
  });
}

/** The texts the payloads must read back as, and the pieces they must show. */
function expectFaithful(bodies: string[], who: string): void {
  for (const payload of PAYLOADS) {
    if (payload.exact) {
      expect(bodies, `${who}: ${JSON.stringify(payload.body.slice(0, 80))} as exact text`).toContain(
        payload.body.replace(BIDI_CONTROLS, ""),
      );
    }
    if (payload.shows) {
      const shows = payload.shows;
      expect(
        bodies.some((text) => text.includes(shows)),
        `${who}: some message shows ${JSON.stringify(shows.slice(0, 80))}`,
      ).toBe(true);
    }
  }
}

/** What the server rendered and what the client rendered must read the same (the HTML parser drops NULs). */
function comparable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000B-\u001F\u007F\uFFFD]/g, "");
}

test("hostile messages stay inert text: nothing runs, no markup, safe links, no bidi tricks, no broken layout", async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const seen: Watch = { dialogs: [] };
  const prepare = (context: BrowserContext) => watch(context, seen);

  const bob = await accountInRoom(browser, baseURL!, ROOM, "Bob", {
    prepare,
    contextOptions: { viewport: { width: 390, height: 844 } },
  });
  const ada = await accountInRoom(browser, baseURL!, ROOM, "Ada", { prepare });

  // A control first, so the link checks below are not vacuous.
  await send(ada.page, "see [the docs](https://example.com/docs) or mailto:ada@example.com");
  for (const payload of PAYLOADS) await send(ada.page, payload.body);
  const total = PAYLOADS.length + 1;

  // Sending goes at the rate limit (a burst of 20, then 3 a second): give it time.
  for (const page of [bob.page, ada.page]) {
    await expect(log(page).locator("li.message[data-seq]")).toHaveCount(total, { timeout: 60_000 });
  }
  await expect(log(ada.page).locator(".pending")).toHaveCount(0);
  expect(seen.dialogs, "no dialog opened while the messages arrived").toEqual([]);

  const control = log(bob.page).locator("li.message[data-seq]").first();
  await expect(control.getByRole("link", { name: "the docs" })).toHaveAttribute("href", "https://example.com/docs");
  await expect(control.locator('a[href="mailto:ada@example.com"]')).toHaveCount(1);

  await expectUnharmed(bob.page, "Bob");
  await expectUnharmed(ada.page, "Ada");
  const live = await bodiesBySeq(bob.page);
  expect(Object.keys(live)).toHaveLength(total);
  expectFaithful(Object.values(live), "Bob");
  expectFaithful(Object.values(await bodiesBySeq(ada.page)), "Ada");
  for (const message of await log(bob.page).locator("li.message[data-seq] .author").allTextContents()) {
    expect(message).toBe("Ada");
  }

  // Bob reloads: the latest page comes rendered by the server, older ones by the client.
  await bob.page.reload();
  await hydrated(bob.page);
  await expect(connection(bob.page)).toHaveAttribute("data-state", "live");
  await expect(async () => {
    const older = bob.page.getByRole("button", { name: "Load older messages" });
    if (await older.count()) await older.dispatchEvent("click");
    await expect(log(bob.page).locator("li.message[data-seq]")).toHaveCount(total, { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
  await expectUnharmed(bob.page, "Bob after a reload");
  const reloaded = await bodiesBySeq(bob.page);
  for (const [seq, text] of Object.entries(live)) {
    expect(comparable(reloaded[seq] ?? "(missing after the reload)"), `message ${seq} after a reload`).toBe(comparable(text));
  }

  // The server's own HTML, with no script to tidy it up afterwards.
  const plain = await newContext(browser, { baseURL, javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
  const reader = await plain.newPage();
  await reader.goto(`/chat/${ROOM}/`);
  await expect(log(reader).locator("li.message[data-seq]").first()).toBeAttached();
  await expectUnharmed(reader, "a reader without JavaScript", { scripts: false });
  const rendered = await bodiesBySeq(reader);
  expect(Object.keys(rendered).length).toBeGreaterThan(0);
  for (const [seq, text] of Object.entries(rendered)) {
    expect(comparable(text), `message ${seq} as the server renders it`).toBe(comparable(live[seq] ?? "(not received live)"));
  }
  await plain.close();

  expect(seen.dialogs, "no dialog ever opened").toEqual([]);
});
