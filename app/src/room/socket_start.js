// The room page's WebSocket, opened and joined while the page's WebAssembly is
// still downloading; the WebAssembly takes it over (app/src/room/socket_start.rs).
// Runs once, at the end of a page the server sent; a room opened by a link
// inside the app connects from the WebAssembly alone.
(() => {
  const at = document.querySelector("[data-join]");
  let early = null;
  let timer = 0;
  const drop = () => {
    if (early) early.ws.close();
    early = null;
  };
  if (at && window.WebSocket) {
    const path = at.dataset.socket;
    const join = at.dataset.join;
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
    early = { ws, path, join, frames: [] };
    ws.onopen = () => ws.send(join);
    // What the server says before the takeover is kept, in order, up to a
    // bound: past it (or if the WebAssembly never comes) the socket goes, and
    // the WebAssembly joins afresh from the same place.
    ws.onmessage = (event) => {
      if (early.frames.push(event.data) > 2000) drop();
    };
    timer = setTimeout(drop, 60000);
  }
  // Hands over the socket with what it received, once, if it is open and was
  // joined with the frame the WebAssembly would send: [socket, ...frames].
  window.chatEarlySocket = (path, join) => {
    const taken = early;
    early = null;
    clearTimeout(timer);
    if (!taken) return null;
    taken.ws.onopen = taken.ws.onmessage = null;
    if (taken.path !== path || taken.join !== join || taken.ws.readyState !== WebSocket.OPEN) {
      taken.ws.close();
      return null;
    }
    return [taken.ws, ...taken.frames];
  };
})();
