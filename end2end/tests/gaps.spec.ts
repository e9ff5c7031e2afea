import {
  test,
  expect,
  newContext,
  hydrated,
  connection,
  log,
  signUpViaApi,
  postOverSocket,
  uniqueUsername,
  PASSWORD,
} from "./fixtures";

test("a message the page never received is fetched as soon as a later one shows the hole", async ({
  browser,
  baseURL,
}) => {
  const room = "holes";
  const context = await newContext(browser, { baseURL });
  // Between page and server: on the first socket only, the frame that carries
  // "lost in transit" never reaches the page (as if a bug anywhere dropped it).
  let sockets = 0;
  let dropped = 0;
  await context.routeWebSocket(/\/ws\/chat\//, (ws) => {
    const server = ws.connectToServer();
    const first = ++sockets === 1;
    server.onMessage((frame) => {
      if (first && typeof frame === "string" && frame.includes('"lost in transit"')) {
        dropped += 1;
        return;
      }
      ws.send(frame);
    });
    ws.onMessage((frame) => server.send(frame));
  });
  const page = await context.newPage();
  await page.goto(`/chat/${room}/`);
  await hydrated(page);
  await expect(connection(page)).toHaveAttribute("data-state", "live");

  const cookie = await signUpViaApi(baseURL!, uniqueUsername("Bob"), "Bob", PASSWORD);
  await postOverSocket(baseURL!, cookie, room, [{ id: "gap-1", body: "lost in transit" }]);
  await expect.poll(() => dropped).toBe(1);
  await expect(log(page).getByText("lost in transit")).toHaveCount(0);

  // The next message is one past the hole: the page resumes from before it.
  await postOverSocket(baseURL!, cookie, room, [{ id: "gap-2", body: "after the hole" }]);
  await expect(log(page).getByText("after the hole")).toHaveCount(1);
  await expect(log(page).getByText("lost in transit")).toHaveCount(1);
  expect(sockets).toBe(2);
  const texts = await log(page).getByRole("listitem").allTextContents();
  const lost = texts.findIndex((t) => t.includes("lost in transit"));
  const after = texts.findIndex((t) => t.includes("after the hole"));
  expect(lost).toBeGreaterThanOrEqual(0);
  expect(lost).toBeLessThan(after);
  await expect(connection(page)).toHaveAttribute("data-state", "live");
});
