// Starts the real chat server binary for the browser tests, on a free port, and
// can stop and restart it on that same port.

import { ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PATIENCE_MS = 30_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export class ChatServer {
  private process: ChildProcess | null = null;
  private output = "";

  /** A database of its own, kept across restarts of this server. */
  readonly db = join(mkdtempSync(join(tmpdir(), "chat-e2e-")), "chat.db");

  /**
   * `store`: the flags that say where it keeps its data instead of its own
   * SQLite file (several servers on one PostgreSQL database with a bus).
   */
  private constructor(
    readonly port: number,
    private readonly store: string[] | null = null,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(store: string[] | null = null): Promise<ChatServer> {
    const server = new ChatServer(await freePort(), store);
    await server.launch();
    return server;
  }

  private async launch(): Promise<void> {
    const bin = process.env.CHAT_SERVER_BIN;
    if (!bin) throw new Error("CHAT_SERVER_BIN is not set: run the tests through scripts/test.sh");
    this.output = "";
    const child = spawn(bin, ["--addr", `127.0.0.1:${this.port}`, ...(this.store ?? ["--db", this.db])], {
      env: {
        ...process.env,
        RUST_LOG: process.env.RUST_LOG ?? "warn,server=info",
        // Every test signs up and in from 127.0.0.1: lift the per-address limit on
        // account attempts (a burst of 10, then 6 a minute, by default) far out of reach.
        CHAT_ACCOUNT_ATTEMPTS: process.env.CHAT_ACCOUNT_ATTEMPTS ?? "100000",
        // The Web Push test's push service is this machine's, over plain http.
        CHAT_PUSH_ALLOW_HTTP: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk) => (this.output += chunk));
    child.stderr?.on("data", (chunk) => (this.output += chunk));
    this.process = child;
    await this.waitUntilServing(child);
  }

  private async waitUntilServing(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + PATIENCE_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(`the server exited with ${child.exitCode}:\n${this.output}`);
      }
      try {
        const response = await fetch(`${this.url}/chat/`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the server did not answer within ${PATIENCE_MS} ms:\n${this.output}`);
  }

  /** Graceful stop (SIGTERM), as a deploy or Ctrl-C would. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), PATIENCE_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the server and removes its database. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(join(this.db, ".."), { recursive: true, force: true });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  logs(): string {
    return this.output;
  }
}
