// The chat's service worker: shows a Web Push notification when no tab of the
// chat is open (the server pushes only to people with no live connection), and
// opens the room at the message when it is clicked. It caches nothing.
//
// A push's data is JSON from the server: {"title", "body", "url", "tag"}; `url`
// is a path of this site (`/chat/<room>/#m<seq>`).

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const shown = self.registration.showNotification(data.title || "New message", {
    body: data.body || "",
    tag: data.tag,
    renotify: Boolean(data.tag),
    icon: "/favicon.svg",
    data: { url: sameSite(data.url) },
  });
  // Tell open pages too (there are none, normally): tests and tools watch this.
  const told = self.clients
    .matchAll({ type: "window", includeUncontrolled: true })
    .then((pages) => pages.forEach((page) => page.postMessage({ pushed: data })));
  event.waitUntil(Promise.all([shown, told]));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sameSite(event.notification.data && event.notification.data.url);
  event.waitUntil(openAt(url));
});

/** A URL of this site for `path`, or the site's root for anything else. */
function sameSite(path) {
  try {
    const url = new URL(path || "/", self.location.origin);
    return url.origin === self.location.origin ? url.href : self.location.origin + "/";
  } catch {
    return self.location.origin + "/";
  }
}

/** Focuses a tab of the chat at `url`, or opens one. */
async function openAt(url) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const exact = pages.find((page) => page.url === url);
  if (exact) return exact.focus();
  const ours = pages.find((page) => new URL(page.url).origin === self.location.origin);
  if (ours) {
    await ours.focus();
    return ours.navigate(url);
  }
  return self.clients.openWindow(url);
}
