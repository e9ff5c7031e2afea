import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect, accountInRoom, composer, log } from "./fixtures";
import { ChatServer } from "./server";

// Two server processes on one PostgreSQL database with Redis between them (the
// machine's own: scripts/test.sh starts them, installing them when missing, and
// says where in CHAT_TEST_POSTGRES and CHAT_TEST_REDIS).
const POSTGRES = process.env.CHAT_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS = process.env.CHAT_TEST_REDIS ?? "redis://127.0.0.1:6379";

function psql(sql: string) {
  execFileSync("psql", [POSTGRES, "-q", "-c", sql], { stdio: "pipe" });
}

test("two people on two servers of one deployment talk in one room", async ({ browser }) => {
  const database = `chat_e2e_${process.pid}_${Date.now()}`;
  psql(`CREATE DATABASE ${database}`);
  const url = new URL(POSTGRES);
  url.pathname = `/${database}`;
  const files = mkdtempSync(join(tmpdir(), "chat-e2e-files-"));
  const store = ["--database", url.toString(), "--files", files, "--bus", REDIS];
  const servers: ChatServer[] = [];
  try {
    // One after the other: the first makes the schema.
    servers.push(await ChatServer.start(store));
    servers.push(await ChatServer.start(store));
    const ada = await accountInRoom(browser, servers[0].url, "two-servers", "Ada");
    const bob = await accountInRoom(browser, servers[1].url, "two-servers", "Bob");

    await composer(ada.page).fill("hello from the first server");
    await composer(ada.page).press("Enter");
    await expect(log(bob.page).getByText("hello from the first server")).toHaveCount(1);

    await composer(bob.page).fill("and back from the second");
    await composer(bob.page).press("Enter");
    await expect(log(ada.page).getByText("and back from the second")).toHaveCount(1);
    // One order for both: the same seqs, each once.
    for (const page of [ada.page, bob.page]) {
      await expect(log(page).locator("li.message[data-seq]")).toHaveCount(2);
      await expect(log(page).locator("li.message[data-seq]").nth(0)).toHaveAttribute("data-seq", "1");
      await expect(log(page).locator("li.message[data-seq]").nth(1)).toHaveAttribute("data-seq", "2");
    }
  } finally {
    await Promise.all(servers.map((server) => server.dispose()));
    rmSync(files, { recursive: true, force: true });
    psql(`DROP DATABASE IF EXISTS ${database}`);
  }
});
