// The room page's WebSocket, opened and joined while the page's WebAssembly is
// still downloading; the WebAssembly takes it over (app/src/room/socket_start.rs).
// Runs once, at the end of a page the server sent; a room opened by a link
// inside the app connects from the WebAssembly alone.
(() => {
  let early = null;
  let timer = 0;
  // Closes the socket and forgets it with what it kept.
  const drop = () => {
    if (!early) return;
    early.ws.onopen = early.ws.onmessage = null;
    early.ws.close();
    early = null;
  };
  // Hands over the socket with what it received, once, if it is open or
  // opening and is (or will be, on opening) joined with the frame the
  // WebAssembly would send: [socket, ...frames]. A cached WebAssembly can
  // come before the handshake is done; the join still goes first.
  window.chatEarlySocket = (path, join) => {
    const taken = early;
    early = null;
    clearTimeout(timer);
    if (!taken) return null;
    taken.ws.onmessage = null;
    if (taken.path !== path || taken.join !== join || taken.ws.readyState > WebSocket.OPEN) {
      taken.ws.onopen = null;
      taken.ws.close();
      return null;
    }
    return [taken.ws, ...taken.frames];
  };
  const at = document.querySelector("[data-join]");
  if (!at || !window.WebSocket) return;
  const { socket: path, join } = at.dataset;
  let ws;
  try {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
  } catch (error) {
    // The WebAssembly will open its own.
    console.warn("could not open the room's socket early", error);
    return;
  }
  const frames = [];
  early = { ws, path, join, frames };
  ws.onopen = () => ws.send(join);
  // What the server says before the takeover is kept, in order, up to a
  // bound: past it (or if the WebAssembly never comes) the socket goes, and
  // the WebAssembly joins afresh from the same place.
  ws.onmessage = (event) => {
    if (frames.push(event.data) > 2000) drop();
  };
  timer = setTimeout(drop, 60000);
})();
