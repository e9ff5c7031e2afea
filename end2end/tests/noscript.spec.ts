import {
  test,
  expect,
  newContext,
  personInRoom,
  signUpThroughPage,
  uniqueUsername,
  composer,
  log,
  roomURL,
  PASSWORD,
} from "./fixtures";

/** The protocol's longest message, in characters. */
const MAX_BODY_CHARS = 4000;

test("with JavaScript off, a signed-in person posts from the page and everyone sees it", async ({ browser, baseURL }) => {
  const room = "plain-post";
  const bob = await personInRoom(browser, baseURL!, room, "Bob");
  const context = await newContext(browser, { baseURL, javaScriptEnabled: false });
  const page = await context.newPage();
  const ada = { username: uniqueUsername("Ada"), displayName: "Ada", password: PASSWORD };
  await signUpThroughPage(page, ada, { next: `/chat/${room}/`, js: false });
  await expect(page).toHaveURL(roomURL(room));

  await composer(page).fill("posted with scripts off");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/chat/${room}/#m\\d+$`));
  await expect(log(page).getByText("posted with scripts off")).toHaveCount(1);
  await expect(log(bob).getByText("posted with scripts off")).toHaveCount(1);

  // A refusal comes back to the page, by its code.
  await composer(page).fill("x".repeat(MAX_BODY_CHARS + 1));
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveAttribute("data-code", "too_long");
  await expect(log(bob).getByText("x".repeat(50))).toHaveCount(0);
});

test("with JavaScript on, the same composer sends over the WebSocket, never as a form post", async ({
  browser,
  baseURL,
}) => {
  const room = "socket-post";
  const ada = await personInRoom(browser, baseURL!, room, "Ada");
  const formPosts: string[] = [];
  ada.on("request", (request) => {
    if (request.method() === "POST" && new URL(request.url()).pathname.startsWith("/chat/")) formPosts.push(request.url());
  });
  await composer(ada).fill("over the socket, by Enter");
  await composer(ada).press("Enter");
  await composer(ada).fill("over the socket, by the button");
  await ada.getByRole("button", { name: "Send", exact: true }).click();
  await expect(log(ada).locator("li.message[data-seq]")).toHaveCount(2);
  await expect(ada).toHaveURL(roomURL(room));
  expect(formPosts).toEqual([]);
});

test("with JavaScript off, a signed-in person sees their room list, joins a room, chooses its notifications and leaves it", async ({
  browser,
  baseURL,
}) => {
  const room = "plain-join";
  const context = await newContext(browser, { baseURL, javaScriptEnabled: false });
  const page = await context.newPage();
  const ada = { username: uniqueUsername("Ada"), displayName: "Ada", password: PASSWORD };
  await signUpThroughPage(page, ada, { next: `/chat/${room}/`, js: false });
  await expect(page).toHaveURL(roomURL(room));
  const myRooms = page.getByRole("navigation", { name: "Your rooms" });
  // The page's first HTML draws the list as it is: signed in, nothing in it yet.
  await expect(myRooms.getByText("Rooms you join or post in show here.")).toBeVisible();
  await expect(myRooms.getByText("Sign in to keep a list")).toHaveCount(0);

  await page.getByRole("button", { name: "Join", exact: true }).click();
  await expect(page).toHaveURL(roomURL(room));
  await expect(myRooms.locator(`li[data-room="${room}"]`)).toHaveCount(1);
  await expect(page.getByRole("button", { name: "Leave", exact: true })).toBeVisible();
  // Its notification level, as a plain form: saved, and shown chosen after the reload.
  await expect(page.locator(".notify-choice select")).toHaveValue("mentions");
  await page.locator(".notify-choice select").selectOption("nothing");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page).toHaveURL(roomURL(room));
  await expect(page.locator(".notify-choice select")).toHaveValue("nothing");
  await expect(myRooms.locator(`li[data-room="${room}"]`)).toHaveClass(/muted/);

  await page.getByRole("button", { name: "Leave", exact: true }).click();
  await expect(page).toHaveURL(roomURL(room));
  await expect(myRooms.locator(`li[data-room="${room}"]`)).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Join", exact: true })).toBeVisible();
});
