import { test, expect, personInRoom, log, send, connection } from "./fixtures";

test("after the server restarts, the page reconnects by itself and sending works", async ({
  browser,
  baseURL,
  server,
}) => {
  const ada = await personInRoom(browser, baseURL!, "sturdy", "Ada");
  const bob = await personInRoom(browser, baseURL!, "sturdy", "Bob");
  await send(ada, "before the restart");
  await expect(log(bob).getByText("before the restart")).toHaveCount(1);

  await server.stop();
  await expect(connection(ada)).toHaveAttribute("data-state", "reconnecting");
  await expect(connection(ada)).toContainText("Reconnecting");

  await server.restart();
  await expect(connection(ada)).toHaveAttribute("data-state", "live", { timeout: 20_000 });
  await expect(connection(bob)).toHaveAttribute("data-state", "live", { timeout: 20_000 });

  await send(ada, "after the restart");
  await expect(log(bob).getByText("after the restart")).toHaveCount(1);
  await expect(log(ada).getByText("after the restart")).toHaveCount(1);
});
